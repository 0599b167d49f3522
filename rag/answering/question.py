"""What a question asks for, read off its Kiwi morphemes: the kind of answer it expects and the
constraints an answer must meet.

    >>> q = analyse("제58차 SCM은 어느 도시에서 열리나?")
    >>> q.wants, q.numbers, q.entities
    ('place', (('58', '차'),), ('scm',))

``wants`` is one of ``date``, ``number``, ``person``, ``place``, ``organization``, ``acronym``,
``name`` (some named thing), ``reason``, ``description``, ``yesno``. ``unit`` is the counter a
number must carry ("곳", "%", "조 원"), ``counted`` the noun a "몇 개의 X" question counts (an
answer may count it directly: "7단지"); ``attribute`` the property asked for when the question
names one (나이, 예산, 장소 …); ``predicates`` the verbs that say what happened ("태어나", "발족" of
"발족하다"), light and frame verbs left out. ``entities`` are the question's proper names and
Latin words, ``numbers`` its numbers with their units (ordinals included: "제58차" is ('58',
'차'), "the 58th" ('58', 'th'), an ordinal in any of ``ORDINAL_UNITS``), ``terms`` its content
morphemes without the question words.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..keywords import KEEP_TAGS, analyze_tokens
from .answer import language_of

SPAN_KINDS = ("date", "number", "person", "place", "organization", "acronym", "name")

# Korean question words (Kiwi forms) and what they ask for; 몇/얼마 take the unit that follows.
WH_KO = {
    "언제": "date",
    "누구": "person",
    "누가": "person",
    "어디": "place",
    "왜": "reason",
    "어떻게": "description",
    "어떻": "description",  # Kiwi's form of 어떻게 ("어떻게 되는가": 어떻 + 게)
    "어떠": "description",
    "무엇": "name",
    "뭐": "name",
    "무슨": "name",
    "어떤": "name",
    "어떠하": "name",  # "어떠한 정책" as Kiwi sometimes reads it: which one
    "어느": "name",
    "몇": "number",
    "며칠": "date",  # 몇 일 in one word: which day, or how many days (``_wh_kind``)
    "얼마": "number",
    "얼마나": "number",
}
# The noun an "어느/어떤/무슨 X" or "X는 무엇" question is about, and what that asks for.
HEAD_KINDS = {
    "date": ("날", "날짜", "때", "시기", "일시", "연도", "해", "년도", "시점", "요일"),
    "place": ("곳", "장소", "도시", "나라", "국가", "지역", "위치", "호텔", "지방", "도", "시"),
    "person": (
        "사람",
        "인물",
        "장관",
        "대통령",
        "회장",
        "사장",
        "대표",
        "의원",
        "선수",
        "작가",
        "감독",
        "인사",
        "총리",
        "대사",
        "부회장",
        "본부장",
        "위원장",
        "학자",
        "왕",
    ),
    "organization": (
        "기업",
        "회사",
        "기관",
        "단체",
        "조직",
        "정당",
        "부처",
        "팀",
        "대학",
        "학교",
        "업체",
        "재단",
        "그룹",
        "방송사",
        "신문",
    ),
    "acronym": ("약칭", "약자", "약어", "영문", "줄임말", "이니셜"),
    "name": ("이름", "명칭", "제목", "별명", "애칭", "호칭", "명의"),
    "number": (
        "나이",
        "연령",
        "예산",
        "금액",
        "규모",
        "비용",
        "가격",
        "인구",
        "수",
        "숫자",
        "비율",
        "인원",
        "병력",
        "액수",
        "점수",
        "높이",
        "길이",
        "무게",
        "면적",
        "거리",
        "횟수",
        "순위",
        "기간",  # a length of time ("6개월", "7년간"), not a date
    ),
}
UNIT_OF_HEAD = {"나이": "살", "연령": "살"}  # an age is a number of years old
# A question about an amount of money ("얼마를 투자했나", "예산은 얼마인가", "how much did it cost")
# wants a sum: a number in some currency, or one that ends on a magnitude ("400조"). ``MONEY`` is
# its unit (see ``spans.is_money``).
MONEY = "돈"
MONEY_NOUNS = frozenset(
    "가격 비용 금액 액수 예산 매출 매출액 이익 영업이익 순이익 수익 수입 지출 적자 흑자 손실 손해 "
    "투자 투자액 투자금 연봉 임금 월급 자본 자본금 기금 벌금 배상금 보상금 보험금 상금 요금 세금 "
    "부채 채무 몸값 지원금 사업비 공사비 예산액 수주액 판매액 거래액 시가총액".split()
)
EN_MONEY = re.compile(
    r"\bhow much\b.*\b(?:cost|price|budget|invest\w*|spen[dt]|pay|paid|revenue|profits?|worth|"
    r"fund\w*|fine[ds]?)\b|\bhow much money\b",
    re.I,
)
# English question words, in order of precedence.
WH_EN = [
    (re.compile(r"\b(?:abbreviat\w*|acronym|stand for|short for)\b", re.I), "acronym"),
    (
        re.compile(
            r"\bhow (?:many|much|old|long|far|large|big|often)\b|\bwhat (?:share|percent\w*|"
            r"proportion|number|amount|age)\b|\bhow high\b",
            re.I,
        ),
        "number",
    ),
    (
        re.compile(
            r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bby when\b"
            r"|\bwhich (?:year|date|day)\b",
            re.I,
        ),
        "date",
    ),
    (re.compile(r"\bwho(?:m|se)?\b", re.I), "person"),
    (
        re.compile(
            r"\bwhere\b|\bwhich (?:city|country|place|hotel|region)\b"
            r"|\bin which (?:city|hotel|country)\b",
            re.I,
        ),
        "place",
    ),
    (
        re.compile(
            r"\bwhich (?:compan\w+|firm\w*|organi[sz]ation\w*|agenc\w+|institut\w+)\b", re.I
        ),
        "organization",
    ),
    (re.compile(r"\bwhy\b", re.I), "reason"),
    (re.compile(r"\bhow\b", re.I), "description"),
    (re.compile(r"^(?:is|are|was|were|does|do|did|has|have|can|will)\b", re.I), "yesno"),
    (re.compile(r"\bwhat\b|\bwhich\b", re.I), "name"),
]
EN_UNITS = [
    (re.compile(r"\b(?:percent\w*|share|proportion)\b", re.I), "%"),
    (re.compile(r"\bhow old\b|\bage\b", re.I), "살"),
]
QUESTION_WORDS = set(WH_KO) | {"어떻", "얼마나", "어느", "무엇", "누구"}
EN_STOP = {
    "what",
    "when",
    "where",
    "who",
    "whom",
    "whose",
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
    "has",
    "have",
    "be",
    "been",
    "many",
    "much",
    "will",
    "that",
    "this",
    "from",
    "according",
    "as",
    "or",
    "into",
    "than",
    "their",
    "they",
    "there",
    "these",
    "those",
    "so",
}
_NUMBER_UNIT = re.compile(
    r"(\d[\d,.]*)\s?(%|퍼센트|세기|번째|주년|차|회|년|월|일|곳|개|명|척|위|배|세|살|조|억|만)?"
)
# Units that number one of a series (the 57th meeting, the 20th National Assembly): a text about
# another one is about something else. Years, months and amounts are not such units.
ORDINAL_UNITS = {"차", "회", "번째", "주년"}
# An English ordinal ("the 59th SCM") is one of a series in whichever Korean unit the article uses.
ENGLISH_ORDINAL = "th"
_ORDINAL_SUFFIX = re.compile(r"(?:st|nd|rd|th)\b", re.I)


@dataclass(frozen=True)
class Question:
    """What a question asks for and what an answer to it must respect."""

    text: str
    language: str
    wants: str
    unit: str
    attribute: str
    entities: tuple[str, ...]
    numbers: tuple[tuple[str, str], ...]
    terms: tuple[str, ...]
    counted: str = ""
    predicates: tuple[str, ...] = ()

    @property
    def units(self) -> tuple[str, ...]:
        """The units an answer's number may carry: the asked counter, or the counted noun."""
        return tuple(u for u in (self.unit, self.counted) if u)

    @property
    def asks_span(self) -> bool:
        """Whether the answer is a short span (a date, a number, a name…), not an explanation."""
        return self.wants in SPAN_KINDS


UNITS = {
    "퍼센트": "%",
    "프로": "%",
    "곳": "개",
    "개사": "개",
    "가지": "개",
    "개국": "개",
    "군데": "개",
    "세": "살",
    "번": "번째",
    "인": "명",
    "나라": "개",  # countries counted: "몇 나라" is answered by "14개국"
    "℃": "도",
    "°C": "도",
    "ºC": "도",
    "년도": "년",
    "연도": "년",
}
MAGNITUDES = {"만", "억", "조", "천", "백", "십", "천만", "백만"}
NUMERALS = {
    "한",
    "두",
    "세",
    "네",
    "다섯",
    "여섯",
    "일곱",
    "여덟",
    "아홉",
    "열",
    "스무",
    "하나",
    "둘",
    "셋",
    "넷",
}


def normal_unit(unit: str) -> str:
    """One spelling per unit: 퍼센트 → %, 곳/가지/개국 → 개, 인 → 명, 세 → 살; a magnitude before
    the unit is left out ("조원" → 원)."""
    for magnitude in sorted(MAGNITUDES, key=len, reverse=True):
        if unit.startswith(magnitude) and len(unit) > len(magnitude):
            unit = unit[len(magnitude) :]
            break
    return UNITS.get(unit, unit)


def unit_after(tokens, k: int) -> str:
    """The unit of the number at token ``k``: the next morpheme past any magnitude (만, 억 …)
    and any bracketed aside ("870만(±120만)종" counts 종). Kiwi tags a magnitude as a numeral
    (NR); the same word as a counter (NNB) is the unit: "제89조에" and "232조 조치" count
    articles of a law, as a question's "몇 조" asks. A degree sign before C, however written
    ("40°C", "40'C"), is 도, as is ℃."""
    i, looked = k + 1, 0
    while i < len(tokens) and looked < 3:
        t = tokens[i]
        close = _aside_end(tokens, i)
        if close:
            i = close + 1
            continue
        nxt = tokens[i + 1].form if i + 1 < len(tokens) else ""
        if (t.form in MAGNITUDES and t.tag != "NNB") or is_number_token(t) or is_about(t):
            i, looked = i + 1, looked + 1
            continue
        if t.form == "번" and nxt == "째":
            return "번째"
        if t.form in DEGREE_SIGNS and nxt == "C":
            return "도"
        return normal_unit(t.form) if t.tag in ("NNB", "NNG", "SW", "SL", "NR", "XSN") else ""
    return ""


def _aside_end(tokens, i: int) -> int:
    """Where a short bracketed aside opening at token ``i`` closes (0: none opens there)."""
    if tokens[i].form != "(":
        return 0
    return next((j for j in range(i + 1, min(i + 8, len(tokens))) if tokens[j].form == ")"), 0)


DEGREE_SIGNS = {"°", "º", "'", "˚"}
_RANGE = re.compile(r"\d+(?:\.\d+)?[-~]\d+(?:\.\d+)?")


def is_about(t) -> bool:
    """The suffix 여 of an approximate number ("30여 명", "100여 개국"): more than, not a unit."""
    return t.form == "여" and t.tag == "XSN"


def is_number_token(t) -> bool:
    """A number: digits (SN), or a range of them that Kiwi reads as a serial ("19-20", "3-4")."""
    return t.tag == "SN" or (t.tag == "W_SERIAL" and bool(_RANGE.fullmatch(t.form)))


def analyse(text: str) -> Question:
    """The question's kind of answer and constraints (see the module docstring)."""
    language = language_of(text)
    tokens = analyze_tokens([text])[0]
    if language == "en":
        wants, unit, attribute = _english_wants(text)
    else:
        wants, unit, attribute = _korean_wants(tokens)
    counted = _counted(tokens) if language == "ko" and wants == "number" else ""
    entities = _entities(text, tokens)
    numbers = tuple(
        (
            m[1].replace(",", ""),
            ENGLISH_ORDINAL
            if language == "en" and _ORDINAL_SUFFIX.match(text, m.end(1))
            else normal_unit(m[2] or ""),
        )
        for m in _NUMBER_UNIT.finditer(text)
    )
    # An English question's words cannot meet a Korean article's, except its names and acronyms
    # (which Korean articles often give in Latin letters: SCM, GDP, Future Combined Forces Command).
    found = entities if language == "en" else _terms(text, tokens)
    terms = tuple(dict.fromkeys(t for t in found if t not in QUESTION_WORDS))
    predicates = _predicates(tokens) if language == "ko" else ()
    return Question(
        text, language, wants, unit, attribute, entities, numbers, terms, counted, predicates
    )


# Verbs that say nothing of what happened: light and auxiliary verbs, the question's own frame
# ("무엇이라 부르나"; question words such as 어떻 are left out too), and verbs that act as
# postpositions ("에 따르면", "에 대한").
LIGHT_VERBS = {
    "하", "되", "있", "없", "이", "같", "보", "받", "주", "나", "오", "가",
    "말", "그렇", "많", "크", "알", "쓰", "부르", "불리",
    "의하", "대하", "위하", "통하", "따르", "관하", "인하",
}  # fmt: skip


def _predicates(tokens) -> tuple[str, ...]:
    """The question's verbs (VV, VA) and verb nouns ("발족" before 하다/되다) but light ones: the
    relation it asks about, which a sentence about the same people or thing but another event
    lacks ("태어난 날짜" against a sentence of appointments)."""
    found = [
        t.form
        for t, after in zip(tokens, [*tokens[1:], None])
        if is_predicate(t, after) and t.form not in LIGHT_VERBS and t.form not in WH_KO
    ]
    return tuple(dict.fromkeys(found))


def is_predicate(t, after) -> bool:
    """A verb or adjective (irregular ones too: Kiwi's VV-R, VA-I), or a noun made one by 하다
    ("확대" of 확대하다; ``after``: the next morpheme or None)."""
    return t.tag.startswith(("VV", "VA")) or (
        t.tag == "NNG" and after is not None and after.tag in ("XSV", "XSA")
    )


WH_TAGS = ("NP", "MAG", "MM", "NR", "NNG", "VA", "XR", "NNP")  # Kiwi reads "누가" as a name (Luke)


def _korean_wants(tokens) -> tuple[str, str, str]:
    """(kind, unit, attribute) from the first question word and the nouns around it."""
    at = _question_word(tokens)
    attribute = _asked_attribute(tokens, at)
    if at is None:  # "…의 약칭은?" asks for the thing named; "…했나?" asks yes or no
        verb_final = len(tokens) > 1 and tokens[-1].tag == "SF" and tokens[-2].tag.startswith("E")
        return ("yesno" if verb_final else _head_kind(attribute) or "name"), "", attribute
    wants, unit = _wh_kind(tokens, at)
    word = tokens[at].form
    if word in ("어느", "어떤", "무슨", "무엇", "뭐", "어디") and attribute:
        head = _head_kind(attribute)
        wants = head if head and (word != "어디" or head == "organization") else wants
    unit = unit or UNIT_OF_HEAD.get(attribute, "") or _money(tokens, word, wants)
    return wants, normal_unit(unit), attribute


def _money(tokens, word: str, wants: str) -> str:
    """``MONEY`` when a number question asks 얼마 about one of ``MONEY_NOUNS`` (예산, 투자,
    벌금 …): it wants a sum, in whatever currency; else ''."""
    about_money = any(t.tag.startswith("NN") and t.form in MONEY_NOUNS for t in tokens)
    return MONEY if wants == "number" and word in ("얼마", "얼마나") and about_money else ""


def _question_word(tokens) -> int | None:
    """Where the first question word that asks something is (see ``_indefinite``)."""
    asking = (
        i
        for i, t in enumerate(tokens)
        if t.form in WH_KO and t.tag.split("-")[0] in WH_TAGS and not _indefinite(tokens, i)
    )
    return next(asking, None)


INDEFINITE_ENDINGS = {"든지", "든", "든가", "라도", "나", "이나"}


def _indefinite(tokens, at: int) -> bool:
    """Whether the question word at ``at`` is indefinite, not asked: "누구나", "언제든지",
    "어떤 시점에서든지" (any one at all). Such an ending follows it, or the noun after 어떤/어느/
    무슨, through particles and the copula only."""
    i = at + 1
    if tokens[at].form in ("어떤", "어느", "무슨") and i < len(tokens) and tokens[i].tag == "NNG":
        i += 1
    while i < len(tokens) and tokens[i].tag in ("JKB", "JKS", "VCP"):
        i += 1
    return (
        i < len(tokens)
        and tokens[i].form in INDEFINITE_ENDINGS
        and tokens[i].tag in ("EC", "JX")
        and not (i + 1 < len(tokens) and tokens[i + 1].tag == "SF")  # "…있나?" asks
    )


def _counted(tokens) -> str:
    """The noun "몇 개의 X" / "몇 명의 X" counts: an answer may count X itself ("7단지")."""
    for k in range(len(tokens) - 3):
        if (
            tokens[k].form == "몇"
            and tokens[k + 1].tag == "NNB"
            and tokens[k + 2].form == "의"
            and tokens[k + 3].tag == "NNG"
        ):
            return tokens[k + 3].form
    return ""


def _wh_kind(tokens, at: int) -> tuple[str, str]:
    """(kind, unit) the question word at ``at`` asks for: 몇 takes the counter after it (a year,
    month or day counter asks for a date, unless it counts: "몇 년 동안"); 얼마나 자주 asks how
    often, 얼마나 오래 how long."""
    word, after = tokens[at].form, tokens[at + 1].form if at + 1 < len(tokens) else ""
    if word == "며칠":
        return ("number" if _is_count(tokens, at, at + 1) else "date"), "일"
    if word == "어떠" and [t.tag for t in tokens[at + 1 : at + 3]] == ["XSA", "ETM"]:
        return "name", ""  # "어떠한 정책": which one, as 어떤; "어떠한가" asks how
    if word == "몇" and after:
        unit = _unit_after(tokens, at + 1)
        dated = normal_unit(unit) in ("년", "월", "일", "시") and not _is_count(tokens, at)
        return ("date" if dated else "number"), unit
    if word in ("얼마", "얼마나") and after in ("자주", "동안", "오래"):
        return ("description" if after == "자주" else "number"), ""
    return WH_KO[word], ""


def _unit_after(tokens, i: int) -> str:
    """The counter after 몇: one morpheme, or two for "조 원", "번째", "퍼센트"; none when a
    particle or an ending follows ("몇으로", "몇이다")."""
    form = tokens[i].form
    if tokens[i].tag.startswith(("J", "E")) or tokens[i].tag == "VCP":
        return ""
    if (
        i + 1 < len(tokens)
        and tokens[i + 1].tag in ("XSN", "NNB")
        and tokens[i + 1].form in ("째", "원")
    ):
        return form + tokens[i + 1].form
    return form


def _is_count(tokens, at: int, past: int | None = None) -> bool:
    """ "몇 년 동안" / "몇 년 만에" / "몇 년 전" count years, as does a question about a span of
    time ("기간은 몇 년인가", but "시간은 몇 시" asks the hour); "몇 년에" asks for a year.
    ``past``: the first morpheme after the question word and its counter (default: after 몇 and
    one counter; "며칠" is both)."""
    start = at + 2 if past is None else past
    after = [t.form for t in tokens[start : start + 2]]
    counter = tokens[at + 1].form if at + 1 < len(tokens) else ""
    span = _asked_attribute(tokens, at) in DURATIONS and counter != "시"
    return bool({"동안", "만", "째", "간", "이내", "전", "후"} & set(after)) or span


# Nouns for a span of time: "몇 년" asked about one counts years.
DURATIONS = {"기간", "시간", "세월", "동안", "기한", "공백"}


def _asked_attribute(tokens, at: int | None) -> str:
    """The noun the question asks about: the head noun right before the question word
    ("나이는 몇", "도시에서" after 어느), or right after 어느/어떤/무슨."""
    if at is None:  # elliptical ("…의 약칭은?"): the last noun
        nouns = [t for t in tokens if t.tag.startswith("NN")]
        return nouns[-1].form if nouns else ""
    if (
        tokens[at].form in ("어느", "어떤", "무슨")
        and at + 1 < len(tokens)
        and tokens[at + 1].tag.startswith("NN")
    ):
        return tokens[at + 1].form
    before = [t for t in tokens[max(0, at - 3) : at] if t.tag.startswith("NN")]
    return before[-1].form if before else ""


def _head_kind(noun: str) -> str:
    return next((kind for kind, heads in HEAD_KINDS.items() if noun in heads), "")


def _english_wants(text: str) -> tuple[str, str, str]:
    wants = next((kind for pattern, kind in WH_EN if pattern.search(text)), "description")
    unit = (
        next((u for pattern, u in EN_UNITS if pattern.search(text)), "")
        if wants == "number"
        else ""
    )
    if wants == "number" and not unit and EN_MONEY.search(text):
        unit = MONEY
    return wants, unit, ""


def _entities(text: str, tokens) -> tuple[str, ...]:
    """Proper names (Kiwi NNP) and Latin words of the question, lower-cased, without question
    words; a name Kiwi splits with a middle dot ("한·미") stays whole."""
    names = [
        t.form.lower()
        for k, t in enumerate(tokens)
        if t.tag == "NNP"
        and len(t.form) > 1
        and t.form not in QUESTION_WORDS
        and not _answer_language(tokens, k)
    ]
    latin = [
        w.lower()
        for w in re.findall(r"[A-Za-z][A-Za-z0-9&.-]*[A-Za-z0-9]|[A-Z]", text)
        if w.lower() not in EN_STOP and (w[0].isupper() or len(w) > 3)
    ]
    if language_of(text) == "en":  # English: only capitalised words and acronyms name things
        latin = [
            w.lower()
            for w in re.findall(r"\b[A-Z][A-Za-z0-9&-]*\b", text)
            if w.lower() not in EN_STOP
        ]
    return tuple(dict.fromkeys(names + latin))


@functools.cache
def languages() -> frozenset[str]:
    """Language names in Korean (CLDR's, from Babel: 영어, 일본어, 라틴어 …)."""
    from babel import Locale

    return frozenset(n for n in Locale("ko").languages.values() if re.fullmatch(r"[가-힣]+", n))


def _answer_language(tokens, k: int) -> bool:
    """Whether the name at ``k`` is the language the answer is asked in, not something asked
    about: "영어로 뭐라고 해?", "일본어로 무엇이라고 하나?" (a language, 로, a question word)."""
    follows = tokens[k + 1 : k + 3]
    return (
        tokens[k].form in languages()
        and len(follows) == 2
        and follows[0].form in ("로", "으로")
        and follows[1].form in QUESTION_WORDS | {"뭐", "어떻게"}
    )


def _terms(text: str, tokens) -> list[str]:
    hangul = [t.form for t in tokens if t.tag.startswith(KEEP_TAGS)]
    latin = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]*|\d+(?:\.\d+)?", text)]
    return hangul + [w for w in latin if w not in EN_STOP]
