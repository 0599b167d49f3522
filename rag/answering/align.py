"""An English question's words in the articles' own words.

Korean articles rarely use the words of an English question: only its names and acronyms in Latin
letters ("SCM", "NASA") can meet them, so the reader's word-overlap features, fitted on Korean
questions, had nothing to go on, and a sentence quoting a long English title won on its Latin
words. The e5 model the index already uses embeds single words across the two languages close to
their translations ("meet" → 만나, "companies" → 기업, "Hyatt" → 하얏트), so each content word of an
English question is mapped to the content morpheme of the retrieved passages whose vector is
nearest, when that one stands out from the rest of them. The mapped morphemes join the question's
terms, and the reader then reads the question as it reads a Korean one.

Countries are not left to the model: an English question's country names ("the US", "Japan",
"South Korea") are read as the names Korean news writes (미국, 일본, 한국, from CLDR's names in both
languages), and replace the Latin words among its names, so that the reader's name checks (a
sentence naming the question's countries, a question about a country no article names) work on
English questions as on Korean ones.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace

import numpy as np

from ..keywords import analyze_tokens
from ..retrieve import Passage
from .question import EN_STOP, Question
from .reader import news_name

# How far above the median cosine between an English word and the passages' morphemes the nearest
# morpheme must be to count as its translation. Chosen on the English seed dev questions (0.00 to
# 0.08 tried: the right sentence first for 4 of 10 without the mapping, 5 at 0.00–0.04, 6 at 0.05).
MIN_GAP = 0.05
_MORPHEME_TAGS = ("NNG", "NNP", "VV", "VA", "XR")
_HANGUL = re.compile(r"[가-힣]+")
_KEPT = 20_000  # word vectors remembered per process (about 30 MB)
_VECTORS: dict[tuple[str, str], np.ndarray] = {}
# English names news uses beside CLDR's ("South Korea", "United States", "United Kingdom" …).
ENGLISH_COUNTRY_ALIASES = {
    "Korea": "KR",
    "Korean": "KR",
    "ROK": "KR",
    "US": "US",
    "U.S.": "US",
    "USA": "US",
    "America": "US",
    "UK": "GB",
    "Britain": "GB",
}
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO"}  # CLDR territories that group countries


def english_words(text: str) -> list[str]:
    """The content words of an English question, lower-cased, in order, each once."""
    words = (w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]*", text))
    return list(dict.fromkeys(w for w in words if len(w) > 2 and w not in EN_STOP))


@functools.cache
def _english_countries() -> tuple[re.Pattern, dict[str, str]]:
    """A pattern of English country names (CLDR's, from Babel, and the aliases), longest first,
    and each one's Korean name as news writes it."""
    from babel import Locale

    english, korean = Locale("en").territories, Locale("ko").territories
    codes = {
        name: code
        for code, name in english.items()
        if re.fullmatch(r"[A-Z]{2}", code) and code in korean and code not in _NOT_COUNTRIES
    }
    codes = _demonyms(set(codes.values())) | codes | ENGLISH_COUNTRY_ALIASES
    names = sorted(codes, key=len, reverse=True)
    pattern = re.compile(r"(?<![A-Za-z])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z])")
    return pattern, {name: news_name(korean[code]) for name, code in codes.items()}


def _demonyms(countries: set[str]) -> dict[str, str]:
    """Each demonym's country ("French" → FR, "South Korean" → KR), for those of ``countries``
    (ISO codes); a demonym of several countries is the most populous one's ("American": the
    United States, not American Samoa)."""
    from countryinfo import all_countries

    best: dict[str, tuple[int, str]] = {}
    for c in all_countries():
        code, demonym = c.info().get("ISO", {}).get("alpha2"), c.demonym()
        if code in countries and demonym and re.fullmatch(r"[A-Z][A-Za-z ]+", demonym):
            people = c.population() or 0
            if demonym not in best or people > best[demonym][0]:
                best[demonym] = (people, code)
    return {demonym: code for demonym, (_, code) in best.items()}


def english_countries(text: str) -> tuple[list[str], set[str]]:
    """(the Korean names of the countries an English text names, in order, each once; the
    lower-cased Latin words of those names)."""
    pattern, korean = _english_countries()
    found = pattern.findall(text)
    words = {w.lower() for name in found for w in re.findall(r"[A-Za-z]+", name)}
    return list(dict.fromkeys(korean[name] for name in found)), words


def english_name(text: str, country: str) -> str:
    """How an English text names ``country`` (a Korean name), or ``country`` if it does not:
    what an English answer says was asked."""
    pattern, korean = _english_countries()
    return next((name for name in pattern.findall(text) if korean[name] == country), country)


def with_country_names(q: Question) -> Question:
    """An English question whose country names are its names and terms in Korean."""
    names, words = english_countries(q.text)
    if not names:
        return q
    entities = tuple(dict.fromkeys(names + [e for e in q.entities if e not in words]))
    terms = tuple(dict.fromkeys(names + [t for t in q.terms if t not in words]))
    return replace(q, entities=entities, terms=terms)


def passage_morphemes(passages: list[Passage]) -> list[str]:
    """The Hangul content morphemes of the passages (nouns of two syllables or more, verb and
    adjective stems), sorted."""
    return sorted(
        {
            t.form
            for tokens in analyze_tokens([p.text for p in passages])
            for t in tokens
            if t.tag in _MORPHEME_TAGS
            and _HANGUL.fullmatch(t.form)
            and (len(t.form) > 1 or t.tag.startswith("V"))
        }
    )


def _word_vectors(embedder, words: list[str]) -> np.ndarray:
    """The embedder's passage vectors of single words, remembered per model (by its fingerprint):
    a chat asks many questions of the same articles, whose morphemes then need no model run."""
    model = getattr(embedder, "fingerprint", "")
    if not model:
        return embedder.embed_passages(words)
    missing = [w for w in dict.fromkeys(words) if (model, w) not in _VECTORS]
    if missing:
        if len(_VECTORS) + len(missing) > _KEPT:
            _VECTORS.clear()
        for word, vector in zip(missing, embedder.embed_passages(missing)):
            _VECTORS[model, word] = vector
    return np.array([_VECTORS[model, w] for w in words])


def translations(words: list[str], morphemes: list[str], embedder) -> dict[str, str]:
    """Each word's nearest morpheme, for the words whose nearest stands ``MIN_GAP`` above the
    median of their cosines with all the morphemes."""
    if not words or not morphemes:
        return {}
    cosine = _word_vectors(embedder, words) @ _word_vectors(embedder, morphemes).T
    nearest = cosine.argmax(axis=1)
    gap = cosine.max(axis=1) - np.median(cosine, axis=1)
    return {w: morphemes[j] for w, j, g in zip(words, nearest, gap) if g >= MIN_GAP}


def in_article_words(q: Question, passages: list[Passage], embedder) -> Question:
    """``q`` with its country names in Korean and the passages' morphemes its English words
    translate to among its terms (a Korean question is returned as it is)."""
    if q.language != "en":
        return q
    q = with_country_names(q)
    if not passages:
        return q
    found = translations(english_words(q.text), passage_morphemes(passages), embedder)
    return replace(q, terms=tuple(dict.fromkeys(q.terms + tuple(found.values()))))
