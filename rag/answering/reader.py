"""Reading retrieved passages for an answer: every quotable sentence of the passages becomes a
candidate described by interpretable features, which a fitted model (``model.json``, made by
``rag fit``) turns into the probability that the sentence answers the question; inside the
chosen sentence, every phrase becomes a candidate short answer the same way.

The features say how close the sentence is to the question (e5 cosine, shared morphemes, weighted
by how rare they are among the candidates), whether it meets the question's constraints (its
names, its numbers and ordinals), whether it holds the kind of fact asked for (a date, a number
with the asked unit, a name), and how the retrieval ranked its passage.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..chunking import Span, split_sentences, worth_quoting
from ..keywords import KEEP_TAGS, analyze_tokens
from ..retrieve import Passage
from .question import _NUMBER_UNIT, Question, normal_unit
from .spans import TITLES, Phrase, fits, has_fitting, phrases

MODEL_FILE = Path(__file__).with_name("model.json")

SENTENCE_FEATURES = (
    "cos",
    "cos_gap",
    "cos_rank",
    "overlap",
    "overlap_weighted",
    "overlap_gap",
    "context_overlap",
    "passage_overlap",
    "entities_sentence",
    "entities_passage",
    "no_entities",
    "numbers_sentence",
    "number_conflict",
    "kind_sentence",
    "kind_context",
    "asks_span",
    "passage_rank",
    "fused",
    "ranked_chunk",
    "chunk_place",
    "length",
    "cross_lingual",
    "cross_lingual_cos_gap",
)
SPAN_FEATURES = (
    "fits",
    "is_date",
    "is_number",
    "is_named",
    "is_acronym",
    "unit_match",
    "in_question",
    "distance",
    "tokens",
    "full",
    "title_after",
    "particle_match",
    "bracketed",
    "position",
    "wants_date",
    "wants_number",
    "wants_person",
    "wants_named",
    "wants_other",
    "whole_word",
)


def _flat(text: str) -> str:
    """For substring matching: lower case, no spaces or middle dots."""
    return re.sub(r"[\s·ㆍ・]", "", text.lower())


@dataclass
class Candidate:
    """A sentence of a passage that may answer the question."""

    passage: int  # index into the passages
    span: Span  # the sentence, offsets in its article
    tokens: list  # its Kiwi tokens
    features: dict[str, float]
    conflict: str = ""  # a constraint the sentence breaks (see ``constraint_failure``)
    probability: float = 0.0


def candidates(
    question: Question, passages: list[Passage], embedder, vector=None
) -> list[Candidate]:
    """Every quotable sentence of the passages with its features (the probability still 0)."""
    spans = [
        (i, s)
        for i, p in enumerate(passages)
        for s in split_sentences(p.text, p.start)
        if worth_quoting(s.text)
    ]
    if not spans:
        return []
    texts = [s.text for _, s in spans]
    tokens = analyze_tokens(texts)
    qv = embedder.embed_query(question.text) if vector is None else vector
    cosine = embedder.embed_passages(texts) @ qv
    forms = [
        {t.form.lower() for t in ts if t.tag.startswith(KEEP_TAGS) or t.tag in ("SL", "SN")}
        | set(_latin(s))
        for s, ts in zip(texts, tokens)
    ]
    weights = _term_weights(question.terms, forms)
    found = [_overlap(question.terms, f, weights) for f in forms]
    out = []
    for n, ((i, span), ts) in enumerate(zip(spans, tokens)):
        context = set().union(*forms[max(0, n - 1) : n + 2])
        feats = _features(
            question,
            passages,
            i,
            span,
            ts,
            cosine,
            n,
            found,
            _overlap(question.terms, context, weights),
        )
        out.append(
            Candidate(i, span, ts, feats, constraint_failure(question, span.text, passages[i]))
        )
    return out


def _latin(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]*|\d+(?:\.\d+)?", text)]


def _term_weights(terms, forms: list[set[str]]) -> dict[str, float]:
    """Rarer among the candidate sentences, more telling: log(1 + N / (1 + df))."""
    n = len(forms)
    return {t: math.log(1 + n / (1 + sum(t in f for f in forms))) for t in terms}


def _overlap(terms, forms: set[str], weights: dict[str, float]) -> tuple[float, float]:
    """(share of the question's terms in ``forms``, the same weighted by rarity)."""
    if not terms:
        return 0.0, 0.0
    hit = [t in forms for t in terms]
    total = sum(weights.values()) or 1.0
    return sum(hit) / len(terms), sum(w for t, w in weights.items() if t in forms) / total


def _features(
    q: Question, passages, i: int, span: Span, tokens, cosine, n: int, found, context
) -> dict:
    p = passages[i]
    where = _flat(p.text + " " + p.title)
    text = _flat(span.text)
    entities = [_flat(e) for e in q.entities]
    best_cos, cos = float(cosine.max()), float(cosine[n])
    cross = 1.0 if q.language == "en" else 0.0
    places = [place for place, a, b in p.matched if span.start < b and a < span.end]
    fused = max(x.fused for x in passages) or 1.0
    kinds = has_fitting(span.text, tokens, q.wants, q.unit, q.text)
    return {
        "cos": cos,
        "cos_gap": cos - best_cos,
        "cos_rank": 1.0 / (1 + int((cosine > cos).sum())),
        "overlap": found[n][0],
        "overlap_weighted": found[n][1],
        "overlap_gap": found[n][1] - max(f[1] for f in found),
        "context_overlap": context[1],
        "passage_overlap": sum(_flat(t) in where for t in q.terms) / len(q.terms)
        if q.terms
        else 0.0,
        "entities_sentence": sum(e in text for e in entities) / len(entities) if entities else 1.0,
        "entities_passage": sum(e in where for e in entities) / len(entities) if entities else 1.0,
        "no_entities": 0.0 if entities else 1.0,
        "numbers_sentence": _numbers_found(q, span.text),
        "number_conflict": float(bool(_conflict(q, span.text))),
        "kind_sentence": 1.0 if kinds else 0.0,
        "kind_context": 1.0 if kinds or not q.asks_span else 0.0,
        "asks_span": 1.0 if q.asks_span else 0.0,
        "passage_rank": 1.0 / (1 + i),
        "fused": p.fused / fused,
        "ranked_chunk": 1.0 if places else 0.0,
        "chunk_place": 1.0 / (1 + min(places)) if places else 0.0,
        "length": math.log(1 + len(span.text)),
        "cross_lingual": cross,
        "cross_lingual_cos_gap": cross * (cos - best_cos),
    }


def _numbers_found(q: Question, text: str) -> float:
    numbers = [n for n, _ in q.numbers]
    if not numbers:
        return 1.0
    found = {n.replace(",", "") for n, _ in _NUMBER_UNIT.findall(text)}
    return sum(n in found for n in numbers) / len(numbers)


def _conflict(q: Question, text: str) -> str:
    """A number of the question's unit that the text gives instead of the question's own
    ("제57차" for a question about "제58차"), or ''."""
    said = [(n.replace(",", ""), normal_unit(u)) for n, u in _NUMBER_UNIT.findall(text) if u]
    for number, unit in q.numbers:
        if not unit:
            continue
        others = [n for n, u in said if u == unit]
        if others and number not in others:
            return f"{others[0]}{unit}"
    return ""


def constraint_failure(q: Question, sentence: str, passage: Passage) -> str:
    """What keeps a sentence from answering the question, or '': its passage gives another
    number of the question's unit and not the question's own ("제57차", asked about "제58차"), or
    a name of the question appears neither in the passage nor in its article's title. An English
    question's names are not checked: they are English words and the articles may be Korean."""
    conflict = _conflict(q, sentence) or (
        _conflict(q, passage.text) if not _numbers_found(q, passage.text) else ""
    )
    if conflict:
        return f"number:{conflict}"
    if q.language == "ko":
        where = _flat(passage.text + " " + passage.title)
        missing = [e for e in q.entities if _flat(e) not in where]
        if missing:
            return f"entity:{missing[0]}"
    return ""


def span_candidates(q: Question, candidate: Candidate) -> list[tuple[Phrase, dict]]:
    """The phrases of a sentence with their features (see ``SPAN_FEATURES``)."""
    sentence = candidate.span.text
    found = phrases(sentence, candidate.tokens)
    flat_q = _flat(q.text)
    hits = [t.start for t in candidate.tokens if t.form.lower() in set(q.terms)]
    after_wh = _particle_after_question_word(q)
    out = []
    for p in found:
        kinds = p.kinds
        words = [f for f, t in p.tokens if t.startswith(("NN", "SL", "SN", "SH", "XR"))]
        distance = min((abs(h - p.start) for h in hits), default=len(sentence)) / max(
            len(sentence), 1
        )
        feats = {
            "fits": 1.0 if fits(p, q.wants, q.unit) else 0.0,
            "is_date": float("date" in kinds),
            "is_number": float("number" in kinds),
            "is_named": float("named" in kinds),
            "is_acronym": float("acronym" in kinds),
            "unit_match": float(bool(q.unit) and p.unit() == q.unit),
            "in_question": sum(_flat(w) in flat_q for w in words) / len(words) if words else 1.0,
            "distance": distance,
            "tokens": math.log(1 + len(p.tokens)),
            "full": float(p.full),
            "title_after": float(p.after in TITLES),
            "particle_match": float(bool(after_wh) and p.after == after_wh),
            "bracketed": float(
                sentence[p.end : p.end + 1] in ")’”'\""
                or sentence[max(0, p.start - 1) : p.start] in "(‘“'\""
            ),
            "position": p.start / max(len(sentence), 1),
            "wants_date": float(q.wants == "date"),
            "wants_number": float(q.wants == "number"),
            "wants_person": float(q.wants == "person"),
            "wants_named": float(q.wants in ("place", "organization", "name", "acronym")),
            "wants_other": float(not q.asks_span),
            "whole_word": float(not p.before and not p.after),
        }
        out.append((p, feats))
    return out


def _particle_after_question_word(q: Question) -> str:
    """The particle the question puts after its question word ("누가" → 가, "무엇을" → 을)."""
    tokens = analyze_tokens([q.text])[0]
    for t, nxt in zip(tokens, tokens[1:]):
        if t.tag in ("NP", "MAG") and nxt.tag.startswith("J"):
            return nxt.form
    return ""


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic model over named features (standardised as fitted)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def probabilities(self, rows: list[dict]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        x = np.array([[r[f] for f in self.features] for r in rows], dtype=np.float64)
        z = ((x - np.array(self.mean)) / np.array(self.scale)) @ np.array(
            self.coef
        ) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class Model:
    """The fitted reader: the sentence and span models and the thresholds chosen on dev data."""

    sentence: Logistic
    span: Logistic
    answer_threshold: float  # below it, abstain
    second_ratio: (
        float  # a second sentence is quoted when its probability reaches this share of the first's
    )
    short_threshold: float  # a short answer is shown from this span probability on
    fitted_on: dict


@functools.lru_cache(maxsize=2)
def load_model(path: Path = MODEL_FILE) -> Model:
    """The shipped model (``rag fit`` writes it)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return Model(
        Logistic(**_tuples(raw["sentence"])),
        Logistic(**_tuples(raw["span"])),
        raw["answer_threshold"],
        raw["second_ratio"],
        raw["short_threshold"],
        raw.get("fitted_on", {}),
    )


def _tuples(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
