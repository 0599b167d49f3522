"""Passages → a cited Answer. The default composer is extractive and needs no LLM.

Extractive: every sentence of the top passages is scored against the question (e5
cosine of question and sentence, plus the share of the question's content morphemes it
contains, with a penalty when a "when/who/how many" question gets a sentence with no
date/name/number). The best sentences, quoted verbatim and cited, make the answer; when
the best score is under ``abstain_threshold`` it abstains and offers the passages as
related reading. An English question gets an English frame around the Korean evidence.

    >>> a = compose(question, passages, settings, embedder)
    >>> a.answer
    '한국군이 … 2026년까지 ‘미래연합군사령부 완전운용능력(FOC)’ 검증을 추진하기로 합의했다. [1]'

The pipeline then runs the citation checker over it and appends ``date_basis``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .chunking import split_sentences
from .keyword import keyword_tokens
from .retrieve import Passage

ABSTAIN = {"ko": "제공된 기사에서 답을 찾을 수 없습니다.", "en": "The articles do not answer this."}
QUESTION_WORDS = {"무엇", "뭐", "언제", "어디", "누구", "누가", "어떻", "어떤", "얼마", "몇", "왜", "어느", "무슨",
                  "what", "when", "where", "who", "which", "how", "why", "does", "did", "the", "is", "are", "was",
                  "were", "of", "in", "to", "a", "an", "and", "for", "on", "at", "by", "with", "it", "its", "do"}
# What kind of fact a question word asks for, and how to spot one in a sentence.
WANTS = [
    (re.compile(r"언제|몇\s?년|며칠|when|what year|what date", re.I), re.compile(r"\d{4}년|\d+월|\d+일|지난해|올해|내년|\d{4}|\b(?:19|20)\d\d\b")),
    (re.compile(r"얼마|몇|how many|how much|what percent", re.I), re.compile(r"\d")),
]


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

    @classmethod
    def of(cls, n: int, passage: Passage, text: str, start: int, end: int) -> "Citation":
        """Citation n quoting ``text`` (at ``start:end`` in the article) from ``passage``."""
        return cls(n, passage.source, passage.title, passage.published, passage.outlet, passage.chunk_id, text, start, end)


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
    date_note: str = ""  # how old the evidence is, appended to ``answer`` by the pipeline
    timings: dict = field(default_factory=dict)


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
    names = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]
    return "(based on articles from " + ", ".join(f"{names[int(m[5:7]) - 1]} {m[:4]}" for m in months) + ")"


def _question_terms(question: str) -> set[str]:
    return {t for t in keyword_tokens([question])[0] if t not in QUESTION_WORDS}


def score_sentences(question: str, passages: list[Passage], embedder) -> list[tuple[float, int, object]]:
    """(score, passage index, sentence span) for every sentence of the passages, best first."""
    candidates = []
    for i, p in enumerate(passages):
        for s in split_sentences(p.text, p.start):
            if len(re.findall(r"\w", s.text)) >= 8:
                candidates.append((i, s))
    if not candidates:
        return []
    terms = _question_terms(question)
    sentence_terms = keyword_tokens([s.text for _, s in candidates])
    qv = embedder.embed_query(question)
    sv = embedder.embed_passages([s.text for _, s in candidates])
    cosine = sv @ qv
    wants = [fact for asks, fact in WANTS if asks.search(question)]
    cross_lingual = language_of(question) == "en"  # English question, Korean articles: words cannot overlap
    scored = []
    for (i, s), cos, toks in zip(candidates, cosine, sentence_terms):
        overlap = len(terms & set(toks)) / len(terms) if terms else 0.0
        semantic = float(np.clip((cos - 0.75) / 0.15, 0, 1))
        score = semantic if cross_lingual else 0.55 * semantic + 0.45 * overlap
        if any(not fact.search(s.text) for fact in wants):
            score *= 0.6
        scored.append((score, i, s))
    scored.sort(key=lambda x: -x[0])
    return scored


def compose(question: str, passages: list[Passage], settings, embedder, max_sentences: int = 2) -> Answer:
    """The extractive answer: the best-supported sentences, quoted and cited."""
    lang = language_of(question)
    scored = score_sentences(question, passages, embedder)
    best = scored[0][0] if scored else 0.0
    threshold = settings.abstain_threshold_cross_lingual if lang == "en" else settings.abstain_threshold
    if best < threshold:
        return Answer(question, ABSTAIN[lang], True, [], passages, lang, round(best, 3))
    chosen = [scored[0]]
    for item in scored[1:]:
        if len(chosen) >= max_sentences or item[0] < 0.85 * best:
            break
        if all(item[2].text != c[2].text for c in chosen):
            chosen.append(item)
    chosen.sort(key=lambda x: (x[1], x[2].start))  # passage order, then reading order
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    parts = []
    for _, i, span in chosen:
        if i not in numbers:
            numbers[i] = len(numbers) + 1
        n = numbers[i]
        citations.append(Citation.of(n, passages[i], span.text, span.start, span.end))
        text = span.text.replace("\n", " ")
        parts.append(f"{text} [{n}]" if lang == "ko" else f"“{text.rstrip('.')}” [{n}].")
    cited_passages = [passages[i] for i in sorted(numbers, key=numbers.get)]
    body = " ".join(parts) if lang == "ko" else "According to the articles: " + " ".join(parts)
    return Answer(question, body, False, citations, cited_passages + [p for p in passages if p not in cited_passages],
                  lang, round(best, 3))
