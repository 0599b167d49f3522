"""What ``rag fit`` draws and writes: each threshold admits the score it was set at; the
swapped-name negatives are drawn stably."""

from hypothesis import given, settings
from hypothesis import strategies as st


@settings(deadline=None)  # the first example imports rag.answering.fit; no timing is asserted
@given(st.floats(min_value=0.0, max_value=1.0))
def test_a_threshold_set_at_a_score_admits_that_score(p):
    """A threshold taken from a question's answerability is cut down, never rounded up: 0.002794
    rounded to 0.0028 made the very English dev question it was set by abstain."""
    from rag.answering.fit import _at_most

    assert p - 1e-4 < _at_most(p) <= p


def test_a_swapped_name_stays_when_other_names_come_and_go():
    """The swapped-name negatives ``rag fit`` learns from: a question's draw depends on its key and
    the names in the pool alone, so a name added elsewhere (a change to the question analysis)
    leaves almost every question's swap as it was; a draw from one shared random stream would
    move every question after the change."""
    from collections import Counter

    from rag.answering.fit import _swapped

    pool = Counter({f"이름{n}": 1 + n % 3 for n in range(200)})  # 399 in all
    question = "서울시는 언제 개편했나?"
    swaps = lambda draw, names: [  # noqa: E731
        _swapped(question, f"{draw}/q{n}", ["서울시"], names) for n in range(300)
    ]
    before = swaps(0, pool)
    changed = [a for a, b in zip(swaps(0, pool + Counter({"부산시": 1})), before) if a != b]
    assert all(a == "부산시는 언제 개편했나?" for a in changed)
    assert len(changed) < 15  # the new name wins about 1 draw in 400
    assert sum(a != b for a, b in zip(before, swaps(1, pool))) > 250  # another draw, other swaps


def test_swapped_names_are_drawn_by_how_often_questions_ask_about_them():
    """A name the questions ask about often is drawn as often: swaps to names no passage holds
    would be negatives the reader tells apart too easily."""
    from collections import Counter

    from rag.answering.fit import _swapped

    pool = Counter({"흔한이름": 9, "드문이름": 1})
    drawn = Counter(_swapped("서울시는?", f"0/q{n}", ["서울시"], pool) for n in range(2000))
    assert 0.85 < drawn["흔한이름는?"] / 2000 < 0.95
    assert _swapped("서울시는?", "0/q1", ["서울시"], Counter({"서울시": 3})) is None
    assert _swapped("언제 개편했나?", "0/q1", [], pool) is None
