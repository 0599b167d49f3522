"""Passages → a cited Answer, without an LLM: the fitted reader picks the sentence that answers,
quotes it verbatim with its ``[n]``, and leads with the short answer inside it when the question
asks for one and the reader is confident of it; or it abstains and says what the articles cover
nearest.

    >>> question = "미래연합군사령부 완전운용능력 검증은 언제까지 추진하나?"
    >>> compose(question, passages, settings, embedder).answer
    '**2026년** — 한국군이 … **2026년**까지 ‘미래연합군사령부 완전운용능력(FOC)’ 검증을 … [1]'

A sentence that breaks a constraint of the question (its passage gives another ordinal or number
of the asked unit, or does not name who or what the question names) is never the answer. An
English question gets an English frame around the quoted Korean evidence.
"""

from __future__ import annotations

import re

import numpy as np

from ..retrieve import Passage
from .align import english_name, in_article_words
from .answer import ABSTAIN, Answer, Citation
from .question import ENGLISH_ORDINAL, Question, analyse
from .reader import (
    Candidate,
    Model,
    absent_names,
    can_answer,
    candidates,
    countries_asked,
    countries_together,
    lacks_kind,
    load_model,
    question_features,
    score,
    span_candidates,
)


def compose(
    question: str, passages: list[Passage], settings, embedder, model: Model | None = None
) -> Answer:
    """The extractive answer to ``question`` from ``passages``, or an abstention."""
    q = in_article_words(analyse(question), passages, embedder)
    model = model or load_model()
    found = candidates(q, passages, embedder)
    score(model, found)
    allowed = sorted((c for c in found if not c.conflict), key=lambda c: -c.score)
    absent = absent_names(q, passages)
    features = [question_features(q, passages, found, absent)]
    answerable = model.answerable.probabilities(features)[0] if found else 0.0
    threshold = (
        model.answer_threshold_cross_lingual if q.language == "en" else model.answer_threshold
    )
    if not allowed or absent or answerable < threshold or lacks_kind(q, allowed):
        return abstention(q, passages, found, absent, answerable)
    best = allowed[0]
    chosen = [best] + [c for c in allowed[1:2] if _worth_adding(c, best, model)]
    short = short_answer(q, best, model)
    if not short:  # passage order, then reading order; a short answer leads with its own sentence
        chosen.sort(key=lambda c: (c.passage, c.span.start))
    body, citations, cited = quoted(chosen, passages, q.language, short)
    rest = [p for p in passages if p not in cited]
    return Answer(
        question,
        body,
        False,
        citations,
        cited + rest,
        q.language,
        round(float(answerable), 3),
        short_answer=short,
    )


def _worth_adding(c: Candidate, best: Candidate, model: Model) -> bool:
    """A second sentence: nearly as likely as the first and not the same text."""
    return c.probability >= model.second_ratio * best.probability and c.span.text != best.span.text


def short_answer(q: Question, best: Candidate, model: Model) -> str:
    """The phrase of the chosen sentence that answers a question asking for a date, a number, a
    name…, when the reader is confident of it; else ''."""
    if not q.asks_span:
        return ""
    options = span_candidates(q, best)
    if not options:
        return ""
    scores = model.span.scores([f for _, f in options])
    weights = np.exp(scores - scores.max())
    probabilities = weights / weights.sum()
    able = [k for k, (p, _) in enumerate(options) if can_answer(q, p)]
    k = max(able, key=lambda k: probabilities[k], default=None)
    return options[k][0].text if k is not None and probabilities[k] >= model.short_threshold else ""


def quoted(chosen: list[Candidate], passages: list[Passage], lang: str, short: str = ""):
    """(answer text, citations, cited passages in marker order): each sentence verbatim with its
    ``[n]`` (an English frame around them for an English question), led by the short answer in
    bold and with it bold inside its sentence."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    parts = []
    for c in chosen:
        n = numbers.setdefault(c.passage, len(numbers) + 1)
        citations.append(Citation.of(n, passages[c.passage], c.span.text, c.span.start, c.span.end))
        text = c.span.text.replace("\n", " ")
        if short and short in text:
            text = text.replace(short, f"**{short}**", 1)
        parts.append(f"{text} [{n}]" if lang == "ko" else f"“{text.rstrip('.')}” [{n}].")
    body = " ".join(parts) if lang == "ko" else "According to the articles: " + " ".join(parts)
    if short:
        body = f"**{short}** — {body}"
    return body, citations, [passages[i] for i in sorted(numbers, key=numbers.get)]


def abstention(
    q: Question,
    passages: list[Passage],
    found: list[Candidate],
    absent: list[str],
    answerable: float,
) -> Answer:
    """The answer that says the articles do not answer, and what they cover nearest: the passage
    of the best-scored sentence comes first in the related reading."""
    nearest = max(found, key=lambda c: c.score, default=None)
    explanation = _explain(q, nearest, absent)
    order = passages
    if nearest is not None:
        order = [passages[nearest.passage]] + [
            p for i, p in enumerate(passages) if i != nearest.passage
        ]
    text = f"{ABSTAIN[q.language]} {explanation}".strip()
    return Answer(
        q.text,
        text,
        True,
        [],
        order,
        q.language,
        round(float(answerable), 3),
        explanation=explanation,
    )


def _explain(q: Question, nearest: Candidate | None, absent: list[str]) -> str:
    """Why the nearest evidence is not the answer, when a constraint says so."""
    if absent:
        return _not_found(q, english_name(q.text, absent[0]) if q.language != "ko" else absent[0])
    kind, _, value = (nearest.conflict if nearest else "").partition(":")
    if kind == "entity":
        return _not_found(q, value)
    if kind == "number":
        asked = _number_asked(q, value)
    elif kind == "country":
        asked = _countries_asked_named(q)
    else:
        return ""
    if q.language == "ko":
        return f"기사에는 {asked}{_subject(asked)} 아니라 {value}에 관한 내용만 있습니다."
    return f"The articles only cover {value}, not {asked}."


def _not_found(q: Question, name: str) -> str:
    """The articles name nothing about ``name``, in the question's language."""
    if q.language == "ko":
        return f"기사에서 '{name}'에 관한 내용을 찾지 못했습니다."
    return f"The articles say nothing about '{name}'."


def _number_asked(q: Question, covered: str) -> str:
    """The question's number in the unit of the ``covered`` one; an English ordinal as the
    question wrote it ("59th")."""
    asked = next((f"{n}{u}" for n, u in q.numbers if u and covered.endswith(u)), "")
    if asked or q.language == "ko":
        return asked
    written = (re.search(rf"\b{n}\w*", q.text) for n, u in q.numbers if u == ENGLISH_ORDINAL)
    return next((m.group(0) for m in written if m), "")


def _countries_asked_named(q: Question) -> str:
    """The countries the question asks about, a pair named as a pair: 한·미 in Korean, in the
    question's order and words in English ("the US and Japan")."""
    together = countries_together(q)
    asked = sorted(together if len(together) >= 2 else countries_asked(q))
    if q.language == "ko":
        return "·".join(asked)
    names = sorted((english_name(q.text, c) for c in asked), key=q.text.find)
    return " and ".join(names)


def _subject(word: str) -> str:
    """The subject particle for ``word``: 이 after a final consonant, else 가."""
    last = word[-1] if word else "가"
    if "가" <= last <= "힣":
        return "이" if (ord(last) - 0xAC00) % 28 else "가"
    return (
        "이" if last in "0136789LMNR" else "가"
    )  # read aloud: 영, 일, 삼, 육, 칠, 팔, 구 end in a consonant
