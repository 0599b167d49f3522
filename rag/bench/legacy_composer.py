"""The extractive composer as it was before the learned reader (kept for the benchmarks, which
report every figure beside it in the same run; nothing in the product uses it).

Extractive: every sentence of the top ranked chunks is scored against the question (e5
cosine of question and sentence, plus the share of the question's content morphemes it
contains, with a penalty when the sentence lacks the kind of fact asked for: a date, a
number with the asked unit, a place, a name, an acronym; or names another ordinal).
Sentence vectors come from the index (embedded at ingest). The best sentences, quoted
verbatim and cited, make the answer; when
the best score is under ``ABSTAIN_UNDER`` it abstains and offers the passages as
related reading. An English question gets an English frame around the Korean evidence.

    >>> a = compose(question, passages, settings, embedder)
    >>> a.answer
    '한국군이 … 2026년까지 ‘미래연합군사령부 완전운용능력(FOC)’ 검증을 추진하기로 합의했다. [1]'

The pipeline then runs the citation checker over it and appends ``date_basis``.
"""

from __future__ import annotations

import re

import numpy as np

from ..answering.answer import ABSTAIN, Answer, Citation, language_of
from ..chunking import split_sentences, worth_quoting
from ..keywords import analyze, keyword_tokens
from ..retrieve import Passage

# The old settings ``abstain_threshold`` and ``abstain_threshold_cross_lingual``, calibrated on the
# seed dev questions; the learned reader replaced them with fitted thresholds.
ABSTAIN_UNDER = 0.55
ABSTAIN_UNDER_CROSS_LINGUAL = 0.3

QUESTION_WORDS = {
    "무엇",
    "뭐",
    "언제",
    "어디",
    "누구",
    "누가",
    "어떻",
    "어떤",
    "얼마",
    "몇",
    "왜",
    "어느",
    "무슨",
    "what",
    "when",
    "where",
    "who",
    "which",
    "how",
    "why",
    "does",
    "did",
    "the",
    "is",
    "are",
    "was",
    "were",
    "of",
    "in",
    "to",
    "a",
    "an",
    "and",
    "for",
    "on",
    "at",
    "by",
    "with",
    "it",
    "its",
    "do",
}
ASKS_ACRONYM = re.compile(r"약칭|약자|약어|영문\s?명|abbreviat|acronym", re.I)
ACRONYM = re.compile(r"\(([A-Z][A-Za-z0-9&-]{1,9})\)")  # "(NCG)"
# What kind of fact a question word asks for, and how to spot one in a sentence.
WANTS = [
    (
        re.compile(r"언제|몇\s?년|며칠|when|what year|what date", re.I),
        re.compile(r"\d{4}년|\d+월|\d+일|지난해|올해|내년|\d{4}|\b(?:19|20)\d\d\b"),
    ),
    (re.compile(r"얼마|몇|how many|how much|what percent", re.I), re.compile(r"\d")),
    (ASKS_ACRONYM, ACRONYM),
]
WHERE = re.compile(
    r"어디\s?(?:에서|서)|어느\s?(?:곳|도시|나라|지역|장소)|\bwhere\b", re.I
)  # a place
WHICH_ONE = re.compile(
    r"어디(?:인가|인지|가|야|일까|입니까|였나)|어느\s?(?:기업|기관|회사|단체|나라)"
)  # a named entity
COUNTER = re.compile(
    r"몇\s?([가-힣]+|%)"
)  # "몇 곳", "몇 조 원", "몇 번째": the unit the number must carry
NUMBERED = re.compile(
    r"(\d+)\s?(차|회|번째|주년|년)"
)  # "제58차": a sentence about 제57차 is about something else


def _unit_pattern(question: str) -> re.Pattern | None:
    """For "몇 곳/명/조 원/퍼센트" questions: a number carrying that unit."""
    m = COUNTER.search(question)
    if not m:
        return None
    unit = m.group(1)
    unit = {"퍼센트": "(?:%|퍼센트)", "프로": "(?:%|퍼센트)", "%": "%"}.get(
        unit, re.escape(unit[:2] if unit.startswith("번째") else unit[:1])
    )
    return re.compile(r"\d[\d,.]*\s?(?:만|억|조)?\s?" + unit)


def _names_place(morphemes: list[tuple[str, str]]) -> bool:
    """A proper noun followed by 에서 ("서울 하얏트호텔에서"), not "맥락에서" or "SCM에서"."""
    return any(
        tag == "NNP" and nxt == ("에서", "JKB") for (_, tag), nxt in zip(morphemes, morphemes[1:])
    )


def _names_other(morphemes: list[tuple[str, str]], question: str) -> bool:
    """A proper noun or Latin name the question does not already contain."""
    return any(tag in ("NNP", "SL") and form not in question for form, tag in morphemes)


def _conflicting_number(question: str, sentence: str) -> bool:
    """The question names "제58차"/"2026년"; the sentence has that unit with other numbers only."""
    for number, unit in NUMBERED.findall(question):
        found = {n for n, u in NUMBERED.findall(sentence) if u == unit}
        if found and number not in found:
            return True
    return False


def _spells_acronym(question: str, sentence: str) -> bool:
    """An English question spells out what the sentence abbreviates in brackets:
    "Nuclear Consultative Group" ↔ "(NCG)"; the acronym's letters follow the words' initials."""
    initials = "".join(w[0] for w in re.findall(r"[A-Za-z][\w-]*", question)).upper()
    for acronym in ACRONYM.findall(sentence):
        letters = [c for c in acronym.upper() if c.isalpha()]
        it = iter(initials)
        if len(letters) >= 2 and all(c in it for c in letters):
            return True
    return False


def _question_terms(question: str) -> set[str]:
    return {t for t in keyword_tokens([question])[0] if t not in QUESTION_WORDS}


def candidate_sentences(passages: list[Passage], chunks: int = 5) -> list[tuple[int, object]]:
    """(passage index, sentence span) of every quotable sentence of the best ``chunks`` ranked
    chunks (a run-on sentence cut across chunks counts whole). Only chunks that ranked are read,
    not the rest of their context windows: those sentences were more often distractors."""
    ranked = sorted((place, i, a, b) for i, p in enumerate(passages) for place, a, b in p.matched)
    spans = ranked[:chunks]
    candidates = []
    for i, p in enumerate(passages):
        mine = [(a, b) for _, j, a, b in spans if j == i]
        for s in split_sentences(p.text, p.start):
            if any(s.start < b and a < s.end for a, b in mine) and worth_quoting(s.text):
                candidates.append((i, s))
    return candidates


def _lacks_fact(question: str, texts: list[str]) -> list[bool]:
    """For each sentence: does it lack the kind of fact the question asks for (a date, a number
    with the asked unit, an acronym; for "where"/"which one" a place or a name)?"""
    wants = [fact for asks, fact in WANTS if asks.search(question)]
    unit = _unit_pattern(question)
    if unit:
        wants.append(unit)
    lacks = [any(not fact.search(t) for fact in wants) for t in texts]
    if WHERE.search(question) or WHICH_ONE.search(question):
        where = bool(WHERE.search(question))
        names = [_names_place(m) if where else _names_other(m, question) for m in analyze(texts)]
        lacks = [lack or not named for lack, named in zip(lacks, names)]
    return lacks


def score_sentences(
    question: str, passages: list[Passage], embedder, chunks: int = 5
) -> list[tuple[float, int, object]]:
    """(score, passage index, sentence span) for every candidate sentence, best first: e5
    cosine and the share of the question's content morphemes it holds (cosine alone for an
    English question over Korean articles, whose words cannot overlap), discounted when the
    sentence lacks the fact asked for or names another ordinal."""
    candidates = candidate_sentences(passages, chunks)
    if not candidates:
        return []
    texts = [s.text for _, s in candidates]
    terms = _question_terms(question)
    cosine = embedder.embed_passages(texts) @ embedder.embed_query(question)
    lacks = _lacks_fact(question, texts)
    cross_lingual = language_of(question) == "en"
    spells = cross_lingual and bool(ASKS_ACRONYM.search(question))
    scored = []
    for (i, s), cos, toks, lack in zip(candidates, cosine, keyword_tokens(texts), lacks):
        overlap = len(terms & set(toks)) / len(terms) if terms else 0.0
        semantic = float(np.clip((cos - 0.75) / 0.15, 0, 1))
        score = semantic if cross_lingual else 0.55 * semantic + 0.45 * overlap
        score *= 0.6 if lack else 1.0
        score *= 0.5 if _conflicting_number(question, s.text) else 1.0
        if spells and _spells_acronym(question, s.text):
            score = max(score, 0.5 + score)
        scored.append((score, i, s))
    scored.sort(key=lambda x: -x[0])
    return scored


def compose(
    question: str, passages: list[Passage], settings, embedder, max_sentences: int = 2
) -> Answer:
    """The extractive answer: the best-supported sentences, quoted and cited; an abstention
    when the best one scores under the threshold."""
    lang = language_of(question)
    scored = score_sentences(question, passages, embedder, settings.top_k)
    best = scored[0][0] if scored else 0.0
    threshold = ABSTAIN_UNDER_CROSS_LINGUAL if lang == "en" else ABSTAIN_UNDER
    if best < threshold:
        return Answer(question, ABSTAIN[lang], True, [], passages, lang, round(best, 3))
    chosen = [scored[0]]
    for item in scored[1:]:
        if len(chosen) >= max_sentences or item[0] < 0.8 * best:
            break
        if all(item[2].text != c[2].text for c in chosen):
            chosen.append(item)
    chosen.sort(key=lambda x: (x[1], x[2].start))  # passage order, then reading order
    body, citations, cited = quoted(chosen, passages, lang)
    rest = [p for p in passages if p not in cited]
    return Answer(question, body, False, citations, cited + rest, lang, round(best, 3))


def quoted(chosen, passages: list[Passage], lang: str) -> tuple[str, list[Citation], list[Passage]]:
    """(answer text, citations, cited passages in marker order) for the chosen (score, passage
    index, sentence span) triples: each sentence verbatim with its ``[n]``, an English frame
    around them for an English question."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    parts = []
    for _, i, span in chosen:
        n = numbers.setdefault(i, len(numbers) + 1)
        citations.append(Citation.of(n, passages[i], span.text, span.start, span.end))
        text = span.text.replace("\n", " ")
        parts.append(f"{text} [{n}]" if lang == "ko" else f"“{text.rstrip('.')}” [{n}].")
    body = " ".join(parts) if lang == "ko" else "According to the articles: " + " ".join(parts)
    return body, citations, [passages[i] for i in sorted(numbers, key=numbers.get)]
