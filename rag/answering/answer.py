"""What an answer is: the text with its ``[n]`` markers, the citations they resolve to, the
passages it was composed from; plus the two things every answer says in the reader's language
(an abstention, and how old its evidence is)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ..retrieve import Passage

ABSTAIN = {"ko": "제공된 기사에서 답을 찾을 수 없습니다.", "en": "The articles do not answer this."}


@dataclass(frozen=True)
class Citation:
    """One ``[n]``: the passage it points at and the verbatim sentence quoted from it."""

    n: int
    source: str
    title: str
    published: str
    outlet: str
    chunk_id: str
    text: str
    start: int
    end: int
    also_in: tuple[str, ...] = ()  # the story's other copies (outlets or files)
    dates: tuple = ()  # dates.DateMention of the relative dates in ``text`` (article offsets)

    @classmethod
    def of(cls, n: int, passage: Passage, text: str, start: int, end: int) -> "Citation":
        """Citation n quoting ``text`` (at ``start:end`` in the article) from ``passage``."""
        return cls(
            n,
            passage.source,
            passage.title,
            passage.published,
            passage.outlet,
            passage.chunk_id,
            text,
            start,
            end,
            passage.also_in,
            tuple(d for d in passage.dates if start <= d.start and d.end <= end),
        )


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    passages: list[Passage]
    language: str
    evidence_score: float = 0.0
    notes: list[str] = field(default_factory=list)
    date_note: str = ""  # how old the evidence is, appended to ``answer`` by ``ask``
    timings: dict = field(default_factory=dict)
    short_answer: str = ""  # the span that answers (a date, a number, a name), shown in bold first
    explanation: str = ""  # for an abstention: what the articles cover instead


def language_of(text: str) -> str:
    """'ko' when the text has Hangul, else 'en' (the product answers in the question's language)."""
    hangul = len(re.findall(r"[가-힣]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "ko" if hangul and hangul * 3 >= latin else "en"


def date_basis(cited: list[Citation], lang: str) -> str:
    """How old the evidence is: "(2022년 5월 기사 기준)" / "(based on articles from May 2022)"."""
    months = sorted({c.published[:7] for c in cited if c.published})
    if not months:
        return "(게재일 미상 기사 기준)" if lang == "ko" else "(article dates unknown)"
    if lang == "ko":
        return "(" + ", ".join(f"{m[:4]}년 {int(m[5:7])}월" for m in months) + " 기사 기준)"
    names = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    return (
        "(based on articles from "
        + ", ".join(f"{names[int(m[5:7]) - 1]} {m[:4]}" for m in months)
        + ")"
    )


def answer_json(answer) -> dict:
    """The JSON contract of `rag ask --json` and the HTTP API's citations (design.md)."""
    return {
        "question": answer.question,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "language": answer.language,
        "citations": [
            {
                "n": c.n,
                "source": c.source,
                "title": c.title,
                "published": c.published,
                "outlet": c.outlet,
                "chunk_id": c.chunk_id,
                "text": c.text,
                "start": c.start,
                "end": c.end,
                "also_in": list(c.also_in),
                "dates": [asdict(d) for d in c.dates],
            }
            for c in answer.citations
        ],
        "passages": [asdict(p) for p in answer.passages],
        "notes": answer.notes,
        "evidence_score": answer.evidence_score,
        "short_answer": answer.short_answer,
        "explanation": answer.explanation,
        "timings": answer.timings,
    }
