"""Reading retrieved passages for an answer, with models fitted on development data
(``model.json``, written by ``rag fit``).

1. Every quotable sentence of the passages is a candidate, described by interpretable features:
   how close it is to the question (e5 cosine; the question's morphemes it and its neighbours
   share, weighted by how rare they are among the candidates), whether it says something the
   question does not (new content, a phrase of the kind asked for: a date, a number with the
   asked unit, a name), whether it meets the question's names, numbers and verbs (the relation
   asked about: "태어난" is not met by a sentence of appointments), and how retrieval
   ranked its passage. A linear scorer, fitted listwise (softmax over each question's
   candidates), ranks them.
2. Whether the question is answered at all is a second model, over the question as a whole:
   the best candidate's score and lead, its features, whether the retrieved passages name the
   question's names at all, how well retrieval matched.
3. Inside the chosen sentence every phrase is a candidate short answer, scored by a third model
   (gradient-boosted trees, ``Trees``).

A sentence whose passage gives another ordinal of the question's series ("제57차" for a question
about "제58차"), or names countries but not the one the question asks about ("한미" for a question
about 일본), is never the answer (``constraint_failure``).
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..chunking import Span, split_sentences, worth_quoting
from ..keywords import KEEP_TAGS, analyze_tokens
from ..retrieve import Passage
from .question import (
    _NUMBER_UNIT,
    ENGLISH_ORDINAL,
    NUMERALS,
    ORDINAL_UNITS,
    Question,
    is_predicate,
    normal_unit,
)
from .spans import (
    TITLES,
    Phrase,
    fits,
    has_fitting,
    is_quoted,
    phrases,
    to_unit,
    unit_fits,
)

MODEL_FILE = Path(__file__).with_name("model.json")

SENTENCE_FEATURES = (
    "cos",
    "cos_gap",
    "overlap",
    "overlap_weighted",
    "overlap_gap",
    "previous_overlap",
    "next_overlap",
    "novelty",
    "kind_sentence",
    "kind_next",
    "entities_sentence",
    "entities_passage",
    "entities_article",
    "numbers_sentence",
    "predicate",
    "other_subject",
    "date_mismatch",
    "title_overlap",
    "passage_rank",
    "fused",
    "ranked_chunk",
    "chunk_place",
    "length",
    "cross_lingual_cos_gap",
)
QUESTION_FEATURES = (
    "score",
    "lead",
    "probability",
    "best_cos",
    "best_overlap",
    "best_specific_overlap",
    "best_novelty",
    "best_kind",
    "kind_top3",
    "best_entities_sentence",
    "best_entities_passage",
    "best_entities_article",
    "entities_anywhere",
    "no_entities",
    "top_dense",
    "terms",
    "asks_span",
    "cross_lingual",
    "allowed",
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
    "head_match",
    "year_asked",
    "day_asked",
    "left_match",
    "right_match",
    "verb_after_match",
    "verb_noun",
    "glosses_question",
    "starts_name",
    "ends_name",
    "starts_common",
    "ends_common",
    "ends_title",
    "role",
    "asked_role",
    "quoted",
)


def _flat(text: str) -> str:
    """For substring matching: lower case, no spaces, underscores or middle dots."""
    return re.sub(r"[\s_·ㆍ・]", "", text.lower())


# Korean news names countries by one syllable in pairs and triples: "한미" is 한국 and 미국.
COUNTRY_SYLLABLES = {
    "한": "한국",
    "미": "미국",
    "중": "중국",
    "일": "일본",
    "북": "북한",
    "러": "러시아",
    "영": "영국",
    "독": "독일",
    "불": "프랑스",
    "호": "호주",
}
_S = "[" + "".join(COUNTRY_SYLLABLES) + "]"
_COUNTRY_GROUP = re.compile(
    rf"(?<![가-힣])({_S}(?:[·ㆍ・]?{_S}){{1,2}})[은는이가과와의을를도]?(?=[\s·,.'\"‘’“”()]|$)"
)


# Korean news is written from Korea: an article about 한국 need not name it.
HOME_COUNTRY = "한국"
# The names one country goes by, Korea's first: a text that names it by one holds it by all.
COUNTRY_NAME_GROUPS = (
    (HOME_COUNTRY, "대한민국", "남한"),
    ("북한", "조선민주주의인민공화국", "북조선"),
    ("미국", "미합중국"),
    ("중국", "중화인민공화국"),
    ("호주", "오스트레일리아"),
    ("터키", "튀르키예"),
    ("미얀마", "버마"),
)
HOME_NAMES = frozenset(COUNTRY_NAME_GROUPS[0])


def news_name(country: str) -> str:
    """The name Korean news gives a country (대한민국 → 한국, 오스트레일리아 → 호주)."""
    return next((group[0] for group in COUNTRY_NAME_GROUPS if country in group), country)


# The names news uses beside CLDR's (대한민국, 오스트레일리아, 튀르키예 …).
COUNTRY_ALIASES = ("한국", "남한", "호주", "터키", "미얀마", "버마", "유럽연합")


@functools.cache
def countries() -> frozenset[str]:
    """Country names in Korean: CLDR's (from Babel) and the forms news uses instead."""
    from babel import Locale

    cldr = {
        name for code, name in Locale("ko").territories.items() if re.fullmatch(r"[A-Z]{2}", code)
    }
    return frozenset(cldr | set(COUNTRY_ALIASES) | set(COUNTRY_SYLLABLES.values()))


def countries_named(text: str, token_lists) -> set[str]:
    """The countries a passage names: as proper nouns of its sentences' morphemes, or in an
    abbreviated pair ("한·미") of its text."""
    named = {t.form for tokens in token_lists for t in tokens if t.tag == "NNP"}
    return (named & countries()) | set(abbreviated_countries(text))


def passage_countries(passage: Passage) -> set[str]:
    """The countries a passage or its article's title names."""
    return countries_named(passage.text + " " + passage.title, analyze_tokens([passage.text]))


def country_groups(text: str) -> list[list[str]]:
    """The countries of each abbreviated pair and triple in ``text`` ("한·미·일": 한국, 미국,
    일본)."""
    groups = []
    for match in _COUNTRY_GROUP.finditer(text):
        group = match.group(1)
        syllables = re.sub(r"[·ㆍ・]", "", group)
        if len(set(syllables)) == len(syllables) and not (
            group == syllables and _inflected(text, match.start(1), match.end(1))
        ):
            groups.append([COUNTRY_SYLLABLES[c] for c in syllables])
    return groups


def _inflected(text: str, start: int, end: int) -> bool:
    """Whether Kiwi reads text[start:end] as a word with a verb ending: "일한" in "밑에서 일한
    장관" is 일 + 하 + ㄴ (worked), not 일·한; "한미" and "한일" are nouns."""
    tokens = analyze_tokens([text])[0]
    inside = [t for t in tokens if start <= t.start < end]
    return any(t.tag.startswith(("XSV", "XSA", "V", "E")) for t in inside)


def abbreviated_countries(text: str) -> list[str]:
    """The countries of all the abbreviated pairs and triples in ``text``."""
    return [country for group in country_groups(text) for country in group]


_HOME = {name: HOME_COUNTRY for name in HOME_NAMES - {HOME_COUNTRY}}  # one name for Korea below


def countries_together(q: Question) -> set[str]:
    """The countries a question names, Korea included ("한·미": 한국, 미국; an English question's
    in Korean, see ``align.with_country_names``)."""
    asked = {_HOME.get(c, c) for c in (set(q.entities) & countries())}
    return asked | set(abbreviated_countries(q.text))


def _other_countries(q: Question, sentence: str, tokens=None) -> str:
    """The countries a sentence tells of when they are not the ones the question asks about
    together (two or more, "한·미", "한국과 미국"), or '': an abbreviated group of its own that
    does not hold them ("미·영"), or two or more countries named but not all of the question's
    ("미국은 영국·일본과도 …"). Its passage may name the question's too: the sentence says which
    relation it tells of. ``tokens``: the sentence's morphemes, analysed here when not given."""
    asked = countries_together(q)
    groups = [set(g) for g in country_groups(sentence)]
    if len(asked) < 2 or any(asked <= g for g in groups):
        return ""
    own = {
        _HOME.get(c, c)
        for c in countries_named(sentence, [tokens or analyze_tokens([sentence])[0]])
    }
    if groups or (len(own) >= 2 and not asked <= own):
        return "·".join(sorted(own))
    return ""


def _names_held(text: str) -> str:
    """``text`` flattened for name matching, with the countries its abbreviated pairs name and
    every other name of each country it names."""
    flat = _flat(text)
    others = [
        name for group in COUNTRY_NAME_GROUPS if any(n in flat for n in group) for name in group
    ]
    return flat + " " + " ".join(abbreviated_countries(text) + others)


@dataclass
class Candidate:
    """A sentence of a passage that may answer the question."""

    passage: int  # index into the passages
    span: Span  # the sentence, offsets in its article
    tokens: list  # its Kiwi tokens
    features: dict[str, float]
    conflict: str = ""  # a constraint the sentence breaks (see ``constraint_failure``)
    score: float = 0.0  # the sentence model's score
    probability: float = 0.0  # softmax of the scores over the allowed candidates


def candidates(
    question: Question, passages: list[Passage], embedder, vector=None
) -> list[Candidate]:
    """Every quotable sentence of the passages with its features (scores still 0)."""
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
    forms = [_forms(t, ts) for t, ts in zip(texts, tokens)]
    weights = _term_weights(question.terms, forms)
    overlaps = [_overlap(question.terms, f, weights) for f in forms]
    context = _Context(question, passages, cosine, forms, overlaps, spans, tokens)
    named = {
        i: countries_named(
            p.text + " " + p.title, [ts for (j, _), ts in zip(spans, tokens) if j == i]
        )
        for i, p in enumerate(passages)
    }
    out = []
    for n, ((i, span), ts) in enumerate(zip(spans, tokens)):
        conflict = constraint_failure(question, span.text, passages[i], named[i], ts)
        out.append(Candidate(i, span, ts, context.features(n), conflict))
    return out


def _forms(text: str, tokens) -> set[str]:
    """A sentence's content morphemes and Latin words, lower-cased."""
    kiwi = {t.form.lower() for t in tokens if t.tag.startswith(KEEP_TAGS) or t.tag in ("SL", "SN")}
    return kiwi | {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]*|\d+(?:\.\d+)?", text)}


def _term_weights(terms, forms: list[set[str]]) -> dict[str, float]:
    """Rarer among the candidate sentences, more telling: log(1 + N / (1 + df))."""
    n = len(forms)
    return {t: math.log(1 + n / (1 + sum(t in f for f in forms))) for t in terms}


def _overlap(terms, forms: set[str], weights: dict[str, float]) -> tuple[float, float]:
    """(share of the question's terms in ``forms``, the same weighted by rarity)."""
    if not terms:
        return 0.0, 0.0
    total = sum(weights.values()) or 1.0
    return sum(t in forms for t in terms) / len(terms), sum(
        w for t, w in weights.items() if t in forms
    ) / total


class _Context:
    """What the features of one question's candidates are computed from."""

    def __init__(self, q: Question, passages, cosine, forms, overlaps, spans, tokens):  # noqa: PLR0913
        self.q, self.passages, self.cosine, self.forms, self.overlaps = (
            q,
            passages,
            cosine,
            forms,
            overlaps,
        )
        self.spans, self.tokens = spans, tokens
        self.best_cos = float(cosine.max())
        self.best_overlap = max(o[1] for o in overlaps)
        self.top_fused = max(p.fused for p in passages) or 1.0
        self.entities = [_flat(e) for e in q.entities]
        # A news article names a person once and then says "이 장관": a sentence's article is
        # what the question's names are looked for in too (its retrieved passages and title).
        self.article_names = {
            source: _names_held(
                " ".join(p.text + " " + p.title for p in passages if p.source == source)
            )
            for source in {p.source for p in passages}
        }
        self.asked = set(q.terms) | {e.lower() for e in q.entities}
        self.flat_q = _flat(q.text)

    def _neighbour(self, n: int, step: int) -> int | None:
        m = n + step
        same = 0 <= m < len(self.spans) and self.spans[m][0] == self.spans[n][0]
        return m if same else None

    def _kind(self, n: int | None) -> bool:
        q = self.q
        return n is not None and has_fitting(
            self.spans[n][1].text, self.tokens[n], q.wants, q.units, q.text
        )

    def features(self, n: int) -> dict[str, float]:
        q, (i, span) = self.q, self.spans[n]
        p = self.passages[i]
        where, text = _names_held(p.text + " " + p.title), _names_held(span.text)
        before, after = self._neighbour(n, -1), self._neighbour(n, 1)
        places = [place for place, a, b in p.matched if span.start < b and a < span.end]
        new = self.forms[n] - self.asked
        cos = float(self.cosine[n])
        return {
            "cos": cos,
            "cos_gap": cos - self.best_cos,
            "overlap": self.overlaps[n][0],
            "overlap_weighted": self.overlaps[n][1],
            "overlap_gap": self.overlaps[n][1] - self.best_overlap,
            "previous_overlap": self.overlaps[before][1] if before is not None else 0.0,
            "next_overlap": self.overlaps[after][1] if after is not None else 0.0,
            "novelty": len(new) / max(len(self.forms[n]), 1),
            "kind_sentence": float(self._kind(n)),
            "kind_next": float(self._kind(after)),
            "entities_sentence": _share(self.entities, text),
            "entities_passage": _share(self.entities, where),
            "entities_article": _share(self.entities, self.article_names[p.source]),
            "numbers_sentence": _numbers_found(q, span.text),
            "predicate": _share(q.predicates, self.forms[n]),
            "other_subject": float(
                bool(self.entities) and _other_subject(self.tokens[n], self.asked)
            ),
            "date_mismatch": float(bool(_other_number(q, span.text))),
            "title_overlap": sum(_flat(t) in _flat(p.title) for t in q.terms) / len(q.terms)
            if q.terms
            else 0.0,
            "passage_rank": 1.0 / (1 + i),
            "fused": p.fused / self.top_fused,
            "ranked_chunk": 1.0 if places else 0.0,
            "chunk_place": 1.0 / (1 + min(places)) if places else 0.0,
            "length": math.log(1 + len(span.text)),
            "cross_lingual_cos_gap": (cos - self.best_cos) if q.language == "en" else 0.0,
        }


def _other_subject(tokens, asked: set[str]) -> bool:
    """Whether the sentence is about another named thing than the question: a proper noun the
    question does not name is its topic or subject ("미·영은 …" for a question about 한·미)."""
    for t, nxt in zip(tokens, tokens[1:]):
        if t.tag == "NNP" and nxt.form in ("은", "는", "이", "가") and nxt.tag in ("JX", "JKS"):
            if t.form.lower() not in asked and _flat(t.form) not in {_flat(a) for a in asked}:
                return True
    return False


def _share(wanted, where) -> float:
    """The share of ``wanted`` (names, verbs) found in ``where`` (a text, or a set of forms); 1.0
    when nothing is wanted."""
    return sum(w in where for w in wanted) / len(wanted) if wanted else 1.0


def _numbers_found(q: Question, text: str) -> float:
    numbers = [n for n, _ in q.numbers]
    if not numbers:
        return 1.0
    found = {n.replace(",", "") for n, _ in _NUMBER_UNIT.findall(text)}
    return sum(n in found for n in numbers) / len(numbers)


def _other_number(q: Question, text: str, units=None) -> str:
    """A number of one of the question's units (``units``: only those) that the text gives
    instead of the question's own ("제57차" for "제58차", "1988년" for "1989년"), or ''."""
    said = [(n.replace(",", ""), normal_unit(u)) for n, u in _NUMBER_UNIT.findall(text) if u]
    for number, unit in q.numbers:
        ordinal = unit == ENGLISH_ORDINAL
        if not unit or (units is not None and unit not in units and not ordinal):
            continue
        others = [(n, u) for n, u in said if u == unit or (ordinal and u in ORDINAL_UNITS)]
        if others and number not in [n for n, _ in others]:
            return "".join(others[0])
    return ""


def constraint_failure(
    q: Question, sentence: str, passage: Passage, named=frozenset(), tokens=None
) -> str:
    """What keeps a sentence from answering the question, or '': it, or its passage and
    article title where these do not give the question's own ordinal, names another one of the
    series the question asks about ("제57차", asked about "제58차"); or its passage names
    countries (``named``) but none the question asks about ("한미" for a question about 일본);
    or it tells of other countries than the ones asked about together (``_other_countries``;
    ``tokens``: the sentence's morphemes)."""
    conflict = _other_number(q, sentence, ORDINAL_UNITS)
    context = passage.text + " " + passage.title
    if not conflict and _numbers_found(q, context) < 1:
        conflict = _other_number(q, context, ORDINAL_UNITS)
    if conflict:
        return f"number:{conflict}"
    if others := _other_countries(q, sentence, tokens):
        return "country:" + others
    asked = countries_asked(q)
    if asked and named and not any(a in named or a in _flat(context) for a in asked):
        return "country:" + "·".join(sorted(named))
    return ""


def countries_asked(q: Question) -> set[str]:
    """The countries a question names, but Korea (an article need not name it)."""
    asked = (set(q.entities) & countries()) | set(abbreviated_countries(q.text))
    return asked - HOME_NAMES


def absent_names(q: Question, passages: list[Passage]) -> list[str]:
    """The question's names in Hangul (an English question's countries among them) that no
    retrieved passage or title holds, even in part: articles that never mention them cannot
    answer a question about them. Korea is never absent: an article written from Korea need not
    name it."""
    where = _names_held(" ".join(p.text + " " + p.title for p in passages))
    return [
        e
        for e in q.entities
        if re.search(r"[가-힣]", e) and e not in HOME_NAMES and not _named_in(e, where)
    ]


def _named_in(entity: str, where: str) -> bool:
    """A name is held when it is, or every word of it is, or (a misspelt or partial form) a
    run of two thirds of its characters is, or it is spelt another way (``_spelt_otherwise``)."""
    words = [_flat(w) for w in entity.split()]
    if all(w in where for w in words):
        return True
    flat = _flat(entity)
    size = max(2, math.ceil(len(flat) * 2 / 3))
    runs = (flat[k : k + size] for k in range(len(flat) - size + 1))
    return any(run in where for run in runs) or _spelt_otherwise(flat, where)


def _spelt_otherwise(name: str, where: str) -> bool:
    """Whether a Hangul name of three or more syllables is in ``where`` spelt another way: from
    one of its first syllable's places there, within one letter (jamo) edit per three syllables
    ("바르세롤나" is "바르셀로나", "도날드" "도널드"). Foreign names are transliterated in more than
    one way, and questions misspell them; two syllables are too short to tell a misspelling from
    another name."""
    if len(name) < 3 or not re.fullmatch(r"[가-힣]+", name):
        return False
    budget, letters = (len(name) + 1) // 3, _letters(name)
    return any(
        _prefix_distance(letters, _letters(where[k : k + len(name) + budget])) <= budget
        for k in (m.start() for m in re.finditer(name[0], where))
    )


def _letters(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _prefix_distance(word: str, text: str) -> int:
    """The fewest edits (insert, delete, replace) that make ``word`` a prefix of ``text``."""
    row = list(range(len(text) + 1))
    for a in word:
        previous, row[0] = row[0], row[0] + 1
        for j, b in enumerate(text, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (a != b))
    return min(row)


def lacks_kind(q: Question, allowed: list[Candidate]) -> bool:
    """A question asking for a date or a number that none of the three best sentences can answer:
    none holds a date, or a number of the asked unit, that the question does not hold itself."""
    ranked = sorted(allowed, key=lambda c: -c.score)[:3]
    return q.wants in ("date", "number") and not any(c.features["kind_sentence"] for c in ranked)


def question_features(
    q: Question, passages: list[Passage], found: list[Candidate], absent: list[str] | None = None
) -> dict:
    """The features of the whole question for the answerability model (``found`` scored;
    ``absent``: its ``absent_names``, when the caller has them already)."""
    allowed = sorted((c for c in found if not c.conflict), key=lambda c: -c.score)
    entities = [e for e in q.entities if re.search(r"[가-힣]", e)]
    absent = len(absent_names(q, passages) if absent is None else absent)
    out = {
        "entities_anywhere": 1.0 - absent / len(entities) if entities else 1.0,
        "no_entities": 0.0 if entities else 1.0,
        "top_dense": max((p.dense for p in passages), default=0.0),
        "terms": math.log(1 + len(q.terms)),
        "asks_span": float(q.asks_span),
        "cross_lingual": float(q.language == "en"),
        "allowed": float(bool(allowed)),
    }
    return out | (_best_features(q, passages, allowed) if allowed else _NO_BEST)


_NO_BEST = {
    "score": -10.0,
    "lead": 0.0,
    "probability": 0.0,
    "best_cos": 0.0,
    "best_overlap": 0.0,
    "best_novelty": 0.0,
    "best_kind": 0.0,
    "best_entities_sentence": 0.0,
    "best_entities_passage": 0.0,
    "best_entities_article": 0.0,
    "best_specific_overlap": 0.0,
    "kind_top3": 0.0,
}


def _best_features(q: Question, passages: list[Passage], allowed: list[Candidate]) -> dict:
    """What the best allowed candidate says about whether the question is answered."""
    best, f = allowed[0], allowed[0].features
    lead = best.score - allowed[1].score if len(allowed) > 1 else 5.0
    return {
        "score": best.score,
        "lead": min(lead, 5.0),
        "probability": best.probability,
        "best_cos": f["cos"],
        "best_overlap": f["overlap_weighted"],
        "best_novelty": f["novelty"],
        "best_kind": f["kind_sentence"],
        "best_entities_sentence": f["entities_sentence"],
        "best_entities_passage": f["entities_passage"],
        "best_entities_article": f["entities_article"],
        "best_specific_overlap": _specific_overlap(q, best, passages),
        "kind_top3": float(any(c.features["kind_sentence"] for c in allowed[:3])),
    }


def _specific_overlap(q: Question, best: Candidate, passages: list[Passage]) -> float:
    """Share of the question's terms that are not in the best sentence's article title (the
    topic every sibling passage shares) that the sentence holds."""
    title = _flat(passages[best.passage].title)
    specific = [t for t in q.terms if _flat(t) not in title]
    if not specific:
        return 0.0
    forms = _forms(best.span.text, best.tokens)
    return sum(t in forms for t in specific) / len(specific)


# Kinds a phrase shows by its own form (digits, 년/월/일, a unit): a question asking for one is
# answered by a phrase of that kind, so no other phrase dilutes the span model's softmax.
TYPED_KINDS = ("date", "number")


def span_candidates(q: Question, candidate: Candidate) -> list[tuple[Phrase, dict]]:
    """The phrases of a sentence that can answer the question, with their features (see
    ``SPAN_FEATURES``)."""
    sentence = candidate.span.text
    hits = [t.start for t in candidate.tokens if t.form.lower() in set(q.terms)]
    asked, words = _asked_for(q), _content(candidate.tokens)
    wanted = {
        "wants_date": float(q.wants == "date"),
        "wants_number": float(q.wants == "number"),
        "wants_person": float(q.wants == "person"),
        "wants_named": float(q.wants in ("place", "organization", "name", "acronym")),
        "wants_other": float(not q.asks_span),
    }
    options = phrases(sentence, candidate.tokens)
    if q.wants in TYPED_KINDS:  # only the dates (numbers) compete, when the sentence has any
        options = [p for p in options if q.wants in p.kinds] or options
        options = _at_asked_grain(q, options, asked) or options
    if q.wants == "number":
        options = _to_units(options, sentence, candidate.tokens)
    return [
        (
            p,
            {
                **_phrase_features(q, p, sentence, hits, asked),
                **_window(p, words, asked, sentence),
                **wanted,
            },
        )
        for p in options
    ]


def can_answer(q: Question, p: Phrase) -> bool:
    """Whether a phrase is of a kind that can answer the question at all: "when" is answered by
    a date, "who" and "which organisation" not by a country ("미국", "한미 상무장관")."""
    if q.wants == "date":
        return "date" in p.kinds
    if q.wants in ("person", "organization"):
        names = [form for form, tag in p.tokens if tag == "NNP"]
        return not names or not all(n in countries() or abbreviated_countries(n) for n in names)
    return True


YEAR_ONLY = re.compile(r"\d{2,4}\s?년도?")


def _at_asked_grain(q: Question, options: list[Phrase], asked: dict) -> list[Phrase]:
    """The dates or numbers of the grain the question asks for, or []: a year for "몇 년에 /
    연도는" (not "1989년 2월 15일"), the whole date for "날짜는 / 며칠" (not "9일" of "2003년 3월
    9일"), a number from its numeral on ("3명", not "슬하 3명")."""
    if q.wants == "date" and asked["year"]:
        return [p for p in options if YEAR_ONLY.fullmatch(p.text)]
    if q.wants == "date" and asked["day"]:
        days = [p for p in options if "일" in p.text]
        return [p for p in days if not any(_inside_of(p, o) for o in days)]
    if q.wants == "number":
        return [p for p in options if _is_numeral(p.tokens[0])]
    return []


def _to_units(options: list[Phrase], sentence: str, tokens) -> list[Phrase]:
    """Each number phrase as far as its unit (``spans.to_unit``), each span once: a question
    asking how many wants "2000톤", not "2000톤 정도"."""
    kept = {(p.start, p.end): p for p in options}
    for p in options:
        cut = to_unit(p, sentence, tokens)
        kept.setdefault((cut.start, cut.end), cut)
    return [p for p in kept.values() if to_unit(p, sentence, tokens) is p]


def _inside_of(p: Phrase, other: Phrase) -> bool:
    return other is not p and other.start <= p.start and p.end <= other.end


def _is_numeral(token: tuple[str, str]) -> bool:
    form, tag = token
    return tag in ("SN", "NR") or (tag == "MM" and form in NUMERALS)


def _asked_for(q: Question) -> dict:
    """What the span features read from the question besides its kind: its flat text and terms,
    the particle after its question word, whether it asks for a year or a day."""
    return {
        "flat": _flat(q.text),
        "terms": set(q.terms),
        "particle": _particle_after_question_word(q),
        "year": q.wants == "date"
        and bool(re.search(r"몇\s?년|연도|년도|해는|what year|which year", q.text)),
        "day": q.wants == "date"
        and bool(re.search(r"며칠|날짜|날은|몇\s?일|what date|which day", q.text)),
    }


def _phrase_features(q: Question, p: Phrase, sentence: str, hits: list[int], asked: dict) -> dict:  # noqa: PLR0913
    words = [f for f, t in p.tokens if t.startswith(("NN", "SL", "SN", "SH", "XR"))]
    distance = min((abs(h - p.start) for h in hits), default=len(sentence))
    around = sentence[p.end : p.end + 1] + sentence[max(0, p.start - 1) : p.start]
    return {
        "fits": 1.0 if fits(p, q.wants, q.units) else 0.0,
        "is_date": float("date" in p.kinds),
        "is_number": float("number" in p.kinds),
        "is_named": float("named" in p.kinds),
        "is_acronym": float("acronym" in p.kinds),
        "unit_match": float(bool(q.units) and unit_fits(p, q.units)),
        "in_question": sum(_flat(w) in asked["flat"] for w in words) / len(words) if words else 1.0,
        "distance": distance / max(len(sentence), 1),
        "tokens": math.log(1 + len(p.tokens)),
        "full": float(p.full),
        "title_after": float(p.after in TITLES),
        "particle_match": float(bool(asked["particle"]) and p.after == asked["particle"]),
        "bracketed": float(any(ch in "()’‘”“'\"" for ch in around)),
        "position": p.start / max(len(sentence), 1),
        "whole_word": float(not p.before and not p.after),
        "head_match": float(
            bool(q.attribute) and (p.tokens[-1][0] == q.attribute or p.after == q.attribute)
        ),
        "year_asked": float(asked["year"] and "년" in p.text),
        "day_asked": float(asked["day"] and "일" in p.text),
        "role": float(ROLES.get(p.after, 0)),
        "asked_role": float(ROLES.get(asked["particle"], 0)),
        "quoted": float(is_quoted(p, sentence)),
        **_edges(p),
    }


# The role a particle gives the phrase before it, as a code the span trees split on: subject or
# topic, object, place or time, means or direction, owner, partner, quoted (Kiwi's JKQ). "누가"
# asks for a subject, "무엇을" for an object; the answer often holds the same role in its sentence,
# but not always the same particle (가 in the question, 는 in the article). Kiwi writes the copula
# "이다" as the form 이 (VCP), so a phrase before it reads as a subject: the form is all a phrase
# keeps of what follows it.
ROLES = {
    **dict.fromkeys(("이", "가", "은", "는", "께서"), 1),
    **dict.fromkeys(("을", "를"), 2),
    **dict.fromkeys(("에", "에서", "에게"), 3),
    **dict.fromkeys(("로", "으로"), 4),
    "의": 5,
    **dict.fromkeys(("와", "과"), 6),
    **dict.fromkeys(("이라고", "라고"), 7),
}


def _edges(p: Phrase) -> dict:
    """What a phrase starts and ends on: a proper noun or a common one, or a title. The answer a
    reader marks is the name, not the name with its title or the noun that places it ("노무현",
    not "노무현 대통령"; "하치노헤", not "하치노헤 항"; "영주", not "고향 영주")."""
    first_tag, (last, last_tag) = p.tokens[0][1], p.tokens[-1]
    return {
        "starts_name": float(first_tag == "NNP"),
        "ends_name": float(last_tag in ("NNP", "SL")),
        "starts_common": float(first_tag == "NNG"),
        "ends_common": float(last_tag == "NNG"),
        "ends_title": float(last in TITLES),
    }


WINDOW = 2  # content words each side of a phrase that the window features read


def _content(tokens) -> dict:
    """A sentence's content morphemes (nouns, verbs, adjectives, numbers, foreign words) and its
    predicates: verbs and adjectives, and the nouns made verbs by 하다 (확대 + 하)."""
    predicates = [t for t, nxt in zip(tokens, [*tokens[1:], None]) if is_predicate(t, nxt)]
    content = [t for t in tokens if t.tag.startswith(("NN", "VV", "VA", "SL", "SN", "XR"))]
    return {"content": content, "predicates": predicates}


def _window(p: Phrase, words: dict, asked: dict, sentence: str) -> dict:
    """How much of the question surrounds a phrase: the share of the ``WINDOW`` content words
    before it and after it that the question has too, and whether the first predicate after it
    is the question's ("… 3.5%로 확대하는 …" for "… 몇 퍼센트로 확대하나?"); whether the
    phrase ends on a noun made a verb by 하다 or 되다 ("운영하고", "채용된"), which names an
    action, not a thing; and whether it glosses a word of the question in brackets ("양해각서(MOU)"
    for a question about the 양해각서: it restates the question unless that asks for the gloss).
    The answer sits where the question's own words are, in their place."""
    content, terms = words["content"], asked["terms"]
    before = [t for t in content if t.start < p.start][-WINDOW:]
    glossed = (
        bool(before)
        and sentence[p.start - 1 : p.start] == "("
        and before[-1].start + before[-1].len == p.start - 1
        and before[-1].form.lower() in terms
    )
    after = [t for t in content if t.start >= p.end]
    verb = next((t for t in words["predicates"] if t.start >= p.end), None)
    return {
        "left_match": sum(t.form.lower() in terms for t in before) / WINDOW,
        "right_match": sum(t.form.lower() in terms for t in after[:WINDOW]) / WINDOW,
        "verb_after_match": float(verb is not None and verb.form in terms),
        "verb_noun": float(any(p.start <= t.start < p.end for t in words["predicates"])),
        "glosses_question": float(glossed),
    }


def _particle_after_question_word(q: Question) -> str:
    """The particle the question puts after its question word ("누가" → 가, "무엇을" → 을)."""
    tokens = analyze_tokens([q.text])[0]
    for t, nxt in zip(tokens, tokens[1:]):
        if t.tag in ("NP", "MAG") and nxt.tag.startswith("J"):
            return nxt.form
    return ""


@dataclass(frozen=True)
class Linear:
    """A fitted linear model over named features (standardised as fitted); ``logistic`` models
    give probabilities, the listwise sentence scorer gives scores."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    logistic: bool = True

    def scores(self, rows: list[dict]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        x = np.array([[r[f] for f in self.features] for r in rows], dtype=np.float64)
        return ((x - np.array(self.mean)) / np.array(self.scale)) @ np.array(
            self.coef
        ) + self.intercept

    def probabilities(self, rows: list[dict]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.scores(rows)))


class Trees:
    """A fitted ensemble of gradient-boosted regression trees over named features (scikit-learn's
    ``HistGradientBoostingClassifier``, written out as node tables): scores are its log-odds.
    The span model is one: which phrase answers depends on combinations of its features (a date
    of the asked grain, right after the question's words) that one weight each cannot express.
    Each tree's nodes are lists of feature index (-1 at a leaf), threshold (a row goes left when
    its value is at most it), left and right child, and value (at a leaf)."""

    def __init__(self, features, baseline, feature, threshold, left, right, value):  # noqa: PLR0913
        self.features, self.baseline = tuple(features), float(baseline)
        self.tables = {
            "feature": feature,
            "threshold": threshold,
            "left": left,
            "right": right,
            "value": value,
        }
        width = max(len(t) for t in feature)
        pad = lambda tables, fill: np.array([t + [fill] * (width - len(t)) for t in tables])  # noqa: E731
        self._feature, self._threshold = pad(feature, -1), pad(threshold, 0.0)
        self._left, self._right, self._value = pad(left, 0), pad(right, 0), pad(value, 0.0)

    def scores(self, rows: list[dict]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        x = np.array([[r[f] for f in self.features] for r in rows], dtype=np.float64)
        trees = np.arange(len(self._feature))[:, None]
        node = np.zeros((len(trees), len(x)), dtype=np.int64)  # every tree's node for every row
        for _ in range(self._feature.shape[1]):
            feature = self._feature[trees, node]
            if (feature < 0).all():
                break
            left = x[np.arange(len(x)), np.maximum(feature, 0)] <= self._threshold[trees, node]
            step = np.where(left, self._left[trees, node], self._right[trees, node])
            node = np.where(feature < 0, node, step)
        return self.baseline + self._value[trees, node].sum(axis=0)

    def as_dict(self) -> dict:
        return {"kind": "trees", "features": list(self.features), "baseline": self.baseline} | (
            self.tables
        )

    @classmethod
    def from_dict(cls, d: dict) -> Trees:
        return cls(**{k: v for k, v in d.items() if k != "kind"})


@dataclass(frozen=True)
class Model:
    """The fitted reader: sentence scorer, answerability and span models, and the thresholds
    chosen on development data."""

    sentence: Linear
    answerable: Linear
    span: Trees
    answer_threshold: float  # answerability below it: abstain
    answer_threshold_cross_lingual: float  # the same for an English question
    second_ratio: (
        float  # a second sentence is quoted when its probability reaches this share of the first's
    )
    short_threshold: float  # a short answer is shown from this span probability on
    fitted_on: dict


def score(model: Model, found: list[Candidate]) -> None:
    """Set each candidate's score, and its probability among the allowed ones."""
    scores = model.sentence.scores([c.features for c in found])
    for c, s in zip(found, scores):
        c.score = float(s)
    allowed = [c for c in found if not c.conflict]
    if allowed:
        top = max(c.score for c in allowed)
        weights = [math.exp(c.score - top) for c in allowed]
        for c, w in zip(allowed, weights):
            c.probability = w / sum(weights)


@functools.lru_cache(maxsize=2)
def load_model(path: Path = MODEL_FILE) -> Model:
    """The shipped model (``rag fit`` writes it)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    parts = [Linear(**_tuples(raw[k])) for k in ("sentence", "answerable")]
    return Model(
        *parts,
        Trees.from_dict(raw["span"]),
        raw["answer_threshold"],
        raw["answer_threshold_cross_lingual"],
        raw["second_ratio"],
        raw["short_threshold"],
        raw.get("fitted_on", {}),
    )


def _tuples(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
