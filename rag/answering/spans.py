"""Candidate answers inside a sentence: noun phrases from Kiwi morphemes, and the kinds of thing
each one can be (a date, a number with its unit, a name, an acronym).

    >>> sentence = "2026년까지 ‘미래연합군사령부 완전운용능력(FOC)’ 검증을 추진하기로 합의했다."
    >>> [c.text for c in phrases(sentence)][:3]
    ['2026년', '미래연합군사령부 완전운용능력', 'FOC']

A phrase is a run of nouns, numbers, Latin words and their counters (with the middle dots,
hyphens and percent signs between them), never crossing a particle, a verb or an ending; every
shorter run inside it that starts and ends on a noun is a candidate too, so "이창양" is one as
well as "이창양 산업통상자원부 장관". What a sentence quotes or puts in title marks is a phrase
whole ("《우리 집에 왜 왔니》"), whatever words it holds.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..keywords import Morpheme, analyze_tokens
from .question import MAGNITUDES, MONEY, NUMERALS, is_about, is_number_token, unit_after

NOUNISH = ("NNG", "NNP", "NNB", "NR", "NP", "SN", "W_SERIAL", "SL", "SH", "XPN", "XSN", "XR")
JOINERS = {"·", "-", "~", "%", "–", "/", "&", "."}
TITLES = {
    "장관",
    "대통령",
    "회장",
    "부회장",
    "사장",
    "대표",
    "의원",
    "총리",
    "대사",
    "대리",
    "본부장",
    "위원장",
    "교수",
    "박사",
    "감독",
    "선수",
    "작가",
    "국왕",
    "왕",
    "황제",
    "씨",
    "총장",
    "차관",
    "청장",
    "시장",
    "지사",
    "주석",
    "서기장",
    "의장",
    "원장",
    "단장",
    "소장",
    "부장",
    "국장",
}
PLACE_CUES = {"에서", "에", "으로", "로"}
DATE = re.compile(
    r"(?:(?:기원전\s?)?\d{1,4}년(?:\s?\d{1,2}월)?(?:\s?\d{1,2}일)?|\d{1,2}월(?:\s?\d{1,2}일)?|\d{1,2}일|"
    r"\d{1,2}세기|\d{4}년대|(?:지난해|작년|올해|금년|내년|지난달|이달|다음달|이날|어제|오늘|내일)"
    r"(?:\s?\d{1,2}월)?(?:\s?\d{1,2}일)?)"
)
MAX_TOKENS = 8


@dataclass(frozen=True)
class Phrase:
    """A candidate answer: its text, where it is in the sentence, and what it can be."""

    text: str
    start: int
    end: int
    tokens: tuple  # Kiwi tokens (form, tag)
    full: bool  # the whole noun phrase, not a part of it
    after: str  # the morpheme right after it (a particle, a title…)
    before: str  # the morpheme right before it

    @property
    def kinds(self) -> set[str]:
        return kinds_of(self)

    def unit(self) -> str:
        """The unit of a number in the phrase ("16곳" → 개, "3.5%" → %, "100만 명" → 명), or ''."""
        tokens = [Morpheme(f, t, 0, 0) for f, t in self.tokens]
        at = next((k for k, t in enumerate(tokens) if _is_number(t)), None)
        return "" if at is None else unit_after(tokens, at)


def kinds_of(p: Phrase) -> set[str]:
    """What a phrase can answer: 'date', 'number', 'named' (a proper noun), 'acronym'."""
    tags = {t for _, t in p.tokens}
    kinds = set()
    if DATE.fullmatch(p.text.strip()):
        kinds.add("date")
    elif "NR" in tags or any(_is_number(Morpheme(f, t, 0, 0)) for f, t in p.tokens):
        kinds.add("number")
    if "NNP" in tags or (tags & {"SL", "SH"} and not tags & {"SN"}):
        kinds.add("named")
    if re.fullmatch(r"[A-Z][A-Z0-9&-]{1,9}", p.text):
        kinds.add("acronym")
    return kinds


def fits(p: Phrase, wants: str, units: tuple[str, ...] = ()) -> bool:
    """Whether a phrase is the kind of answer the question wants (``units``: the ones a number
    may carry). A count of years, days or centuries reads like a date ("10년", "20세기") and
    answers a question counting them ("몇 년 동안")."""
    kinds = p.kinds
    if wants == "date":
        return "date" in kinds
    if wants == "number":
        counted = "number" in kinds or ("date" in kinds and bool(units))
        return counted and (not units or unit_fits(p, units))
    if wants == "acronym":
        return "acronym" in kinds or "named" in kinds
    if wants in ("person", "place", "organization", "name"):
        return "named" in kinds or (wants == "name" and bool(p.tokens))
    return True


def phrases(sentence: str, tokens=None) -> list[Phrase]:
    """Every candidate phrase of a sentence (the module docstring says which)."""
    tokens = tokens if tokens is not None else analyze_tokens([sentence])[0]
    out: dict[tuple[int, int], Phrase] = {(p.start, p.end): p for p in _quoted(sentence, tokens)}
    for run in _runs(tokens):
        for p in _inside(sentence, tokens, run):
            out.setdefault((p.start, p.end), p)
    for p in _words(sentence, tokens):
        out.setdefault((p.start, p.end), p)
    return sorted(out.values(), key=lambda p: (p.start, -p.end))


def _inside(sentence: str, tokens, run: list) -> list[Phrase]:
    """The phrases of one run: every stretch of whole words that starts on a noun or numeral
    and ends on a noun or a percent sign."""
    last = len(run) - 1
    starts = [
        i
        for i in range(len(run))
        if _starts(run[i]) and (i == 0 or _gap(sentence, run[i - 1], run[i]))
    ]
    after = _token_after(tokens, run[last])
    ends = [
        j
        for j in range(len(run))
        if _ends(run[j])
        and (
            _gap(sentence, run[j], run[j + 1]) if j < last else _word_ends(sentence, run[j], after)
        )
    ]
    pairs = [(i, j) for i in starts for j in ends if i <= j < i + MAX_TOKENS]
    return [_phrase(sentence, tokens, run, i, j) for i, j in pairs]


# What Kiwi reads after a noun inside one word when it has split a name: "이창양" is 이창 + 양
# (a determiner), so "이창" is no phrase of its own.
SPLIT_NAME_TAGS = ("MM", "MAG", "MAJ", "IC")


def _word_ends(sentence: str, last, after) -> bool:
    """Whether a phrase may end on ``last``, the end of a run of nouns: at the end of its word, or
    before a particle, ending or suffix, not before a determiner or adverb glued to it."""
    return after is None or _gap(sentence, last, after) or after.tag not in SPLIT_NAME_TAGS


def _token_after(tokens, token):
    """The token that follows ``token`` in the sentence, or None."""
    return next((t for t in tokens if t.start >= token.start + token.len), None)


def _starts(t) -> bool:
    return t.tag in NOUNISH or t.tag == "MM"


def _ends(t) -> bool:
    return (t.tag in NOUNISH and t.tag != "XPN") or t.form == "%"


PARTICLE_END = re.compile(
    r"(?:에서는|에게서|으로는|이라는|에서|에게|으로|부터|까지|처럼|보다|라는|이란|"
    r"은|는|이|가|을|를|의|에|로|와|과|도|만|께)$"
)


def _words(sentence: str, tokens) -> list[Phrase]:
    """Whole words (between spaces) that start with a proper noun, with and without a trailing
    particle: Kiwi cuts some foreign names ("러만도" → 러만 + 도), and the word keeps them whole."""
    out = []
    for m in re.finditer(r"[^\s'\"‘’“”()\[\],.]+", sentence):
        inside = [t for t in tokens if m.start() <= t.start < m.end()]
        if not inside or inside[0].tag not in ("NNP", "SL"):
            continue
        for text in {m.group(), PARTICLE_END.sub("", m.group())}:
            if len(text) >= 2:
                parts = tuple((t.form, t.tag) for t in inside if t.start < m.start() + len(text))
                out.append(Phrase(text, m.start(), m.start() + len(text), parts, True, "", ""))
    return out


OPENING_QUOTES = "'‘“\"《〈「『<"
CLOSING_QUOTES = "'’”\"》〉」』>"
QUOTED = re.compile(
    rf"[{OPENING_QUOTES}]([^{OPENING_QUOTES}{CLOSING_QUOTES}]{{1,40}})[{CLOSING_QUOTES}]"
)


def _quoted(sentence: str, tokens) -> list[Phrase]:
    """What a sentence quotes or puts in title marks, whole, up to 40 characters: a title or a
    name of several words, verbs and particles included ("《우리 집에 왜 왔니》", "‘잔혹한
    점령군’"), which no run of nouns gives."""
    out = []
    for m in QUOTED.finditer(sentence):
        start, end = m.span(1)
        inside = [t for t in tokens if start <= t.start < end]
        if inside and sentence[start:end].strip() == sentence[start:end]:
            before = next((t.form for t in reversed(tokens) if t.start + t.len < start), "")
            after = next((t.form for t in tokens if t.start > end), "")  # past the mark
            parts = tuple((t.form, t.tag) for t in inside)
            out.append(Phrase(sentence[start:end], start, end, parts, True, after, before))
    return out


def is_quoted(p: Phrase, sentence: str) -> bool:
    """Whether a phrase is all that a pair of quotes or title marks holds."""
    return (
        0 < p.start
        and p.end < len(sentence)
        and sentence[p.start - 1] in OPENING_QUOTES
        and sentence[p.end] in CLOSING_QUOTES
    )


def _gap(sentence: str, a, b) -> bool:
    """Whether two tokens are separate words (a space or a joiner between them)."""
    between = sentence[a.start + a.len : b.start]
    return bool(between.strip(" ") != between or between) or a.form in JOINERS or b.form in JOINERS


def _runs(tokens) -> list[list]:
    """Maximal runs of noun-like tokens (joiners allowed between two of them)."""
    runs, current = [], []
    for k, t in enumerate(tokens):
        joins = (
            t.form in JOINERS and current and k + 1 < len(tokens) and tokens[k + 1].tag in NOUNISH
        )
        numeral = t.tag == "MM" and t.form in NUMERALS  # "두 칸", "세 명"
        if t.tag in NOUNISH or numeral or joins or (t.form == "%" and current):
            current.append(t)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _phrase(sentence: str, tokens, run: list, i: int, j: int) -> Phrase:
    first, last = run[i], run[j]
    start, end = first.start, last.start + last.len
    after = getattr(_token_after(tokens, last), "form", "")
    before = next((t.form for t in reversed(tokens) if t.start + t.len <= start), "")
    parts = tuple((t.form, t.tag) for t in run[i : j + 1])
    return Phrase(
        sentence[start:end], start, end, parts, i == 0 and j == len(run) - 1, after, before
    )


@functools.cache
def currencies() -> frozenset[str]:
    """The words Korean gives currencies: the last word of CLDR's names (from Babel: 미국 달러 →
    달러, 유로, 영국 파운드 → 파운드 …) and news's shorter 엔 and 위안."""
    from babel import Locale

    names = Locale("ko").currencies.values()
    words = {n.split()[-1] for n in names if re.fullmatch(r"[가-힣 ]+", n)}
    return frozenset({w for w in words if len(w) > 1} - _NOT_CURRENCIES | {"원", "엔", "위안"})


# CLDR's currencies include units of account, metals and codes whose last word is an everyday
# Korean noun ("코드", "차트"), and one-syllable words ("동", "금") that follow numbers otherwise.
_NOT_CURRENCIES = {
    "단위",
    "동맹",
    "노보",
    "코드",
    "쿠폰",
    "차트",
    "시리",
    "백금",
    "팔라듐",
    "특별인출권",
}


def _money_after(tokens, k: int) -> bool:
    """Whether the number at ``k`` is a sum: a currency follows it within three morphemes (past
    magnitudes and a country: "100만 캐나다 달러"), or a magnitude ends it ("400조를")."""
    following = [t.form for t in tokens[k + 1 : k + 4]]
    if any(f in currencies() for f in following):
        return True
    return bool(following) and following[0] in MAGNITUDES and unit_after(tokens, k) == ""


def is_money(p: Phrase) -> bool:
    """Whether a phrase holds a sum of money (see ``_money_after``)."""
    tokens = [Morpheme(f, t, 0, 0) for f, t in p.tokens]
    return any(_is_number(t) and _money_after(tokens, k) for k, t in enumerate(tokens))


def unit_fits(p: Phrase, units: tuple[str, ...]) -> bool:
    """Whether a number phrase carries one of the asked units (a sum, when money is asked)."""
    return is_money(p) if MONEY in units else p.unit() in units


def _unit_at(tokens, k: int, units: tuple[str, ...]) -> bool:
    """Whether the number at ``k`` carries one of the asked units (a sum, when money is asked)."""
    return _money_after(tokens, k) if MONEY in units else unit_after(tokens, k) in units


def has_fitting(text: str, tokens, wants: str, units: tuple[str, ...], question: str) -> bool:
    """Whether a sentence holds an answer of the kind asked for that the question does not
    already hold (cheaper than building its phrases)."""
    if wants == "date":
        return any(m.group() not in question for m in DATE.finditer(text))
    if wants == "number":
        return any(
            _is_number(t)
            and not _given(t.form, question)
            and (not units or _unit_at(tokens, k, units))
            for k, t in enumerate(tokens)
        )
    if wants == "acronym":
        return any(w not in question for w in re.findall(r"[A-Z][A-Z0-9&-]{1,9}", text))
    if wants in ("person", "place", "organization", "name"):
        return any(t.tag in ("NNP", "SL") and t.form not in question for t in tokens)
    return True


UNIT_TAGS = ("NNB", "NNG", "SW", "SL", "NR", "XSN")  # what a number's unit can be tagged


def to_unit(p: Phrase, sentence: str, tokens) -> Phrase:
    """A number phrase cut after its unit, even inside a word ("2000톤 정도" → "2000톤", "2분만" →
    "2분", "40~50%정도" → "40~50%", "300만 원 이상" → "300만 원"): how many, not what follows;
    ``p`` itself when nothing follows its unit. ``tokens``: the sentence's, offsets in it."""
    inside = [t for t in tokens if p.start <= t.start < p.end]
    at = next((k for k, t in enumerate(inside) if _is_number(t)), None)
    if at is None:
        return p
    k = at + 1
    while k < len(inside) and _continues_number(inside[k]):
        k += 1
    if k < len(inside) and inside[k].tag in UNIT_TAGS:
        ordinal = inside[k].form == "번" and k + 1 < len(inside) and inside[k + 1].form == "째"
        k += 2 if ordinal else 1
    if k >= len(inside):
        return p
    end = inside[k - 1].start + inside[k - 1].len
    parts = tuple((t.form, t.tag) for t in inside[:k])
    return Phrase(sentence[p.start : end], p.start, end, parts, False, inside[k].form, p.before)


def _continues_number(t) -> bool:
    """More of a number: digits, a joiner of a range ("40~50"), a magnitude ("300만"), the 여 of
    an approximate one ("30여")."""
    magnitude = t.form in MAGNITUDES and t.tag != "NNB"
    return _is_number(t) or (t.form in JOINERS and t.form != "%") or magnitude or is_about(t)


def _is_number(t) -> bool:
    """Digits, or a native Korean numeral: "두 명" (Kiwi: a determiner), "아홉 등급" (a numeral)."""
    return is_number_token(t) or (t.tag in ("MM", "NR") and t.form in NUMERALS)


def _given(number: str, question: str) -> bool:
    """Whether the question holds this number whole: "3" is not given by "2003년"."""
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", question) is not None
