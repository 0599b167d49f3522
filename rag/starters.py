"""The web chat's starter questions, made from the index so they are about its articles.

The newest articles' early sentences that hold a full date or a counted or measured number
become questions ("…언제 …했나?", "몇 곳이 …했나?"; an English article: "What does the
article '<title>' report?"); each is asked once and kept only when the composer answers it
from that article with that value, so a starter never leads to "not in these articles". One
per story, at most four. A settings file (``web_starters``: TOML, ``[[starter]] label = …
message = …``) replaces them. Worked out once per index version.
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import replace
from pathlib import Path

from .errors import BadInput, RagError
from .settings import Settings

MOST = 4
LABEL_CHARS = 24
_cache: dict[tuple, list[tuple[str, str]]] = {}
_lock = threading.Lock()


def topic(title: str) -> str:
    """A headline's subject: the part before a colon or dash subtitle, outlet tags removed."""
    title = re.sub(
        r"^\s*[\[【(][^\]】)]{1,12}[\]】)]\s*", "", title
    )  # "[단독] …", "(서울=연합뉴스)"
    head = re.split(r"\s*[:|]\s+|\s+[-–—]\s+", title, maxsplit=1)[0]
    return head.strip(" '\"‘’“”")


_DATE = re.compile(
    r"(?:\d{4}년\s?)?\d{1,2}월(?:\s?\d{1,2}일)?|\d{4}년(?:\s?\d{1,2}월)?(?:\s?\d{1,2}일)?"
)
_AFTER_DATE = re.compile(r"^(?:에는|에|,)?\s*")
_NUMBER = re.compile(
    r"(?<![\d.])\d[\d,]*(?:\.\d+)?\s?(%|퍼센트|개국|개|명|곳|건|차례|번|척|대|조\s?원|억\s?원|"
    r"만\s?원|원|억\s?달러|만\s?달러|달러)"
)
_HOW_MANY = {"%": "몇 퍼센트", "퍼센트": "몇 퍼센트"}
_CONNECTIVE = re.compile(r"^(?:또한|또|그리고|그러나|하지만|그리하여|이에|한편|특히|이어)\s+")
_ENDINGS = [
    (re.compile(r"이다\.$"), "인가?"),
    (re.compile(r"한다\.$"), "하나?"),
    (re.compile(r"다\.$"), "나?"),
]


def fact_question(sentence: str) -> tuple[str, str] | None:
    """A question a Korean news sentence answers, and the answer: its first full date becomes
    "언제", else its first counted or measured number becomes "몇 …"/"얼마"; the statement's
    ending becomes a question's ("…했다." → "…했나?"). None for a sentence without either."""
    sentence = re.sub(r"\s*\(이하[^)]*\)", "", sentence.strip())  # "(이하 현지시각)"
    sentence = _CONNECTIVE.sub("", sentence)  # "또 그 …": no "또" out of context
    if not 20 <= len(sentence) <= 90 or not sentence.endswith("다.") or "\n" in sentence:
        return None
    date = _DATE.search(sentence)
    number = _NUMBER.search(sentence)
    if date:
        rest = _AFTER_DATE.sub("", sentence[date.end() :], count=1)
        question, answer = f"{sentence[: date.start()]}언제 {rest}", date.group()
    elif number:
        unit = re.sub(r"\s", "", number.group(1))
        word = _HOW_MANY.get(unit) or (
            f"몇 {unit}" if "원" not in unit and "달러" not in unit else "얼마"
        )
        question, answer = (
            sentence[: number.start()] + word + sentence[number.end() :],
            number.group(),
        )
    else:
        return None
    for ending, replacement in _ENDINGS:
        if ending.search(question):
            return re.sub(r"\s+", " ", ending.sub(replacement, question)).strip(), answer
    return None


def questions(article) -> list[tuple[str, str]]:
    """(question, expected answer) pairs about an article, from its first sentences; for an
    English article, its headline as the subject of a question."""
    from .answering.answer import language_of
    from .chunking import split_sentences

    if language_of(article.title + " " + article.text[:200]) == "en":
        return [(f"What does the article '{topic(article.title)}' report?", "")]
    sentences = [s.text for s in split_sentences(article.text)[:30]]
    return [q for s in sentences if (q := fact_question(s))]


def _label(subject: str) -> str:
    return subject if len(subject) <= LABEL_CHARS else subject[: LABEL_CHARS - 1] + "…"


def from_file(path: Path) -> list[tuple[str, str]]:
    """(label, message) pairs from a starters TOML file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        pairs = [(str(s["label"]), str(s["message"])) for s in data.get("starter", [])]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as e:
        raise BadInput(
            f"cannot read the starters file {path}: {e}",
            'write [[starter]] tables with label = "…" and message = "…"',
        ) from None
    return pairs


def newest_articles(settings: Settings, most: int = 12) -> list:
    """The index's newest articles (by publication date, undated last), one per story."""
    from .indexing import open_index

    index = open_index(settings)
    _, articles, _ = index.fetch(index.rows())
    unique = {a.key: a for a in articles}
    dated = sorted(unique.values(), key=lambda a: a.published or "", reverse=True)
    return dated[:most]


def _answers_from(question: str, expected: str, article, settings: Settings) -> bool:
    """Whether the composer answers ``question`` from ``article`` with ``expected`` in it."""
    from .answering import ask

    try:
        answer = ask(question, settings)
    except RagError:
        return False
    cited = any(c.source == article.source for c in answer.citations)
    return (
        not answer.abstained
        and cited
        and expected.replace(" ", "") in answer.answer.replace(" ", "")
    )


def starters(settings: Settings) -> list[tuple[str, str]]:
    """Up to four (label, message) starters for the index in ``settings``."""
    if str(settings.web_starters) not in ("", "."):
        return from_file(Path(settings.web_starters))
    from .indexing import open_index

    key = (str(settings.index_dir), open_index(settings).manifest.created)
    with _lock:
        if key not in _cache:
            _cache[key] = _checked(replace(settings, backend="extractive"))
        return _cache[key]


def _checked(settings: Settings) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for article in newest_articles(settings):
        question = next(
            (
                q
                for q, expected in questions(article)
                if _answers_from(q, expected, article, settings)
            ),
            None,
        )
        label = _label(topic(article.title))
        if question and label not in {known for known, _ in found}:  # one starter per story
            found.append((label, question))
        if len(found) == MOST:
            break
    return found
