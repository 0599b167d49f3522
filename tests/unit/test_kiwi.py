"""Kiwi in a helper process (a one-question command's cold start) gives the same tokens as Kiwi in
this process, reports its errors, and is replaced by this process's Kiwi if it dies."""

import pytest

from rag import kiwi
from rag.keywords import analyze_tokens, keyword_tokens

TEXTS = [
    "이창양 산업통상자원부 장관과 지나 러만도 미국 상무장관은 21일 양해각서(MOU)를 체결했다.",
    "한미는 한국 국방비를 GDP 대비 3.5%로 확대하는 데 공감했다.",
    "",
    "The memorandum was signed on Oct. 29.",
]


def _tokens(texts):
    return [[(t.form, t.tag, t.start, t.len) for t in ts] for ts in kiwi.tokenize(texts)]


@pytest.fixture
def helper():
    kiwi.load_in_helper()
    yield kiwi._helper
    with kiwi._helper_lock:
        if kiwi._helper is not None:
            kiwi._helper.kill()
            kiwi._helper.wait()
        kiwi._helper = None


def test_the_helper_gives_this_process_s_tokens(helper):
    assert kiwi._helper is helper and helper.poll() is None
    from_helper = _tokens(TEXTS)
    assert kiwi._helper is helper  # answered by the helper, not by a fallback
    kiwi._helper = None  # this process's own Kiwi, for comparison
    in_process = _tokens(TEXTS)
    kiwi._helper = helper
    assert from_helper == in_process
    assert from_helper[0][:3] == [("이창", "NNP", 0, 2), ("양", "MM", 2, 1), ("산업", "NNG", 4, 2)]
    assert from_helper[2] == []
    assert keyword_tokens(TEXTS[1:2])[0][:3] == ["한미", "한국", "국방비"]


def test_a_dead_helper_is_replaced_by_this_process_s_kiwi(helper):
    helper.kill()
    helper.wait()
    text = "helper가 죽은 뒤 전작권 전환 검증은 언제까지 추진하나?"  # not analysed before
    assert [t.form for t in analyze_tokens([text])[0]][-6:] == [
        "언제",
        "까지",
        "추진",
        "하",
        "나",
        "?",
    ]
    assert kiwi._helper is None


def test_an_error_in_the_helper_is_raised_here(helper):
    with pytest.raises(RuntimeError, match="helper process"):
        list(kiwi.tokenize([None]))
    assert [t.form for t in list(kiwi.tokenize(["검증"]))[0]] == ["검증"]
