"""Relative dates in article text → calendar dates, so a reader sees which day "21일" was.

    >>> [(m.text, m.value) for m in resolve("장관은 21일 서명했다. 이날 회의는", "2022-05-21")]
    [('21일', '2022-05-21'), ('이날', '2022-05-21')]

Two anchors. An expression that points back into the text ("이듬해", "같은 해", "그해", "이날",
"다음 날", "전날") resolves against the last date the text gave before it (a year, a month or a
day), else against the publication date. One that points at the writer's present ("어제",
"지난해", "올해", "내년", "지난달", "이달", "다음 달", a bare "21일", "5월 3일" without a year)
resolves against the publication date. A bare day is this month's when it is not after the
publication day (or at most a week after it, or it follows "오는"), else last month's; a month
and day without a year fall in the publication year unless that is more than two months ahead.
Dates written in full ("2022년 5월 21일") are not annotated but become the anchor.

English news is read the same way: "yesterday", "last year", "this month", "the next day",
"the previous year", "Oct. 25" / "May 18" without a year, and weekdays. A weekday ("on
Tuesday") is the last one on or before the publication day, or the first one on or after it
when its sentence speaks of the future before it ("will", "is set to", "is due", "scheduled");
"last Tuesday" is strictly before, "next Tuesday" strictly after. A named day ("Black Friday")
is a name, not a date; a weekday written with its date ("Friday, Dec. 6") is that date. "Oct. 9,
2018" and a year in prose ("in 2017") become the anchor.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_NUM = r"(\d{1,2})"
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_ABBREVIATED = ["Jan", "Feb", "Mar", "Apr", "Aug", "Sept?", "Oct", "Nov", "Dec"]  # AP style
_MONTH = "(?:" + "|".join(MONTHS + [a + r"\." for a in _ABBREVIATED]) + ")"
_WEEKDAY = "(?:" + "|".join(WEEKDAYS) + ")"
_NAMED_DAY = re.compile(r"\b(?:Black|Cyber|Good|Super|Ash|Easter|Palm|Bloody|Holy|Giving)\s$", re.I)
_AFTER_PREPOSITION = "".join(  # a year in English prose: "in 2017", not "2000 people"
    ["(?:", "|".join(f"(?<=\\b{w} )" for w in ("in", "by", "of", "since", "from", "until")), ")"]
)
_CLAUSE_START = re.compile(r"[.,;:!?\n]\s|\b(?:said|says|told|announced|reported)\b")
_FUTURE = re.compile(r"\b(?:will|shall|'ll|is set to|are set to|is due|are due|scheduled)\b")
PATTERN = re.compile(
    r"(?P<full>(?P<y>\d{4})년\s*(?:(?P<ym>\d{1,2})월\s*(?:(?P<yd>\d{1,2})일)?)?)"
    rf"|(?P<md>(?<![\d.])(?P<m>\d{{1,2}})월\s*(?P<d>\d{{1,2}})일)"
    rf"|(?P<bare>(?:(?P<dir>오는|지난)\s*)?(?<![\d월.])(?P<day>\d{{1,2}})일(?!\s*[간째동]))"
    rf"|(?P<rel_year>(?P<ry>지난해|작년|올해|금년|내년)(?:\s*{_NUM}월)?)"
    r"|(?P<rel_month>지난달|이달|이번 달|다음 달|내달)"
    r"|(?P<rel_day>(?<![가-힣])(?:어제|오늘|내일|그저께|엊그제)(?!날))"  # not 오늘날 (nowadays)
    r"|(?P<back_year>(?<![가-힣])(?:이듬해|다음 해|같은 해|그해|그 해|전년))"
    r"|(?P<back_day>(?<![가-힣])(?:이날|그날|당일|다음 ?날|이튿날|전날))"
    rf"|(?P<en_full>\b(?P<en_fm>{_MONTH})\s+(?P<en_fd>\d{{1,2}}),?\s+(?P<en_fy>(?:19|20)\d\d)\b)"
    rf"|(?P<en_year>{_AFTER_PREPOSITION}(?:19|20)\d\d\b)"
    rf"|(?P<en_md>\b(?P<en_m>{_MONTH})\s+(?P<en_d>\d{{1,2}})\b(?![:\d]))"
    r"|(?P<en_rel_day>\b(?:[Yy]esterday|[Tt]oday|[Tt]omorrow)\b)"
    r"|(?P<en_rel>\b(?P<en_step>[Ll]ast|[Tt]his|[Nn]ext)\s+(?P<en_unit>year|month)\b)"
    r"|(?P<en_back>\b(?:[Tt]he\s+)?(?P<en_back_step>same|next|following|previous)\s+"
    r"(?P<en_back_unit>day|year)\b)"
    rf"|(?P<en_weekday>\b(?:(?P<en_wd_step>[Ll]ast|[Nn]ext|[Tt]his)\s+)?"
    rf"(?P<en_wd>{_WEEKDAY})\b(?:,?\s+(?P<en_wm>{_MONTH})\s+(?P<en_wdd>\d{{1,2}})\b(?![:\d])"
    r"(?:,?\s+(?P<en_wy>(?:19|20)\d\d)\b)?)?)"
)
YEAR_STEP = {"지난해": -1, "작년": -1, "올해": 0, "금년": 0, "내년": 1}
MONTH_STEP = {"지난달": -1, "이달": 0, "이번 달": 0, "다음 달": 1, "내달": 1}
DAY_STEP = {"어제": -1, "오늘": 0, "내일": 1, "그저께": -2, "엊그제": -2}
BACK_YEAR = {"이듬해": 1, "다음 해": 1, "같은 해": 0, "그해": 0, "그 해": 0, "전년": -1}
BACK_DAY = {"이날": 0, "그날": 0, "당일": 0, "다음 날": 1, "다음날": 1, "이튿날": 1, "전날": -1}


@dataclass(frozen=True)
class DateMention:
    """A relative date in a text: its span and the date it means (YYYY-MM-DD, YYYY-MM or YYYY)."""

    start: int
    end: int
    text: str
    value: str


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10])
    except (TypeError, ValueError):
        return None


def _shift_month(year: int, month: int, step: int) -> tuple[int, int]:
    n = year * 12 + month - 1 + step
    return n // 12, n % 12 + 1


def _valid(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


class _Reader:
    """Walks a text's date expressions in order, keeping the last year and the last day the
    text gave (the anchors of "이듬해" and "이날"), and the text (a weekday's clause)."""

    def __init__(self, published: dt.date | None, text: str):
        self.published, self.text = published, text
        self.year: int | None = None
        self.day: dt.date | None = None

    def read(self, m: re.Match) -> str | None:
        return getattr(self, "_" + _kind(m))(m)

    def _on(self, day: dt.date | None) -> str | None:
        if day:
            self.year, self.day = day.year, day
        return day.isoformat() if day else None

    def _full(self, m):
        self.year = int(m["y"])
        if m["ym"] and m["yd"]:
            self.day = _valid(self.year, int(m["ym"]), int(m["yd"]))
        return None  # written in full: nothing to add

    def _md(self, m):
        return self._on_month_day(int(m["m"]), int(m["d"]))

    def _on_month_day(self, month: int, day: int, anchored: bool = True) -> str | None:
        year, p = self.year if anchored else None, self.published
        if year is None and p:
            ahead = _valid(p.year, month, day)
            year = p.year - 1 if ahead and (ahead - p).days > 62 else p.year
        return self._on(_valid(year, month, day) if year else None)

    def _bare(self, m):
        p, day = self.published, int(m["day"])
        if not p:
            return None
        step = 0
        if m["dir"] == "오는":
            step = 1 if day < p.day else 0
        elif day > p.day + (0 if m["dir"] == "지난" else 7):
            step = -1
        return self._on(_valid(*_shift_month(p.year, p.month, step), day))

    def _rel_year(self, m):
        if not self.published:
            return None
        self.year = self.published.year + YEAR_STEP[m["ry"]]
        month = re.search(r"(\d{1,2})월", m.group())
        if month and 1 <= int(month[1]) <= 12:
            return f"{self.year:04d}-{int(month[1]):02d}"
        return f"{self.year:04d}"

    def _rel_month(self, m):
        if not self.published:
            return None
        year, month = _shift_month(self.published.year, self.published.month, MONTH_STEP[m.group()])
        return f"{year:04d}-{month:02d}"

    def _rel_day(self, m):
        if not self.published:
            return None
        return (self.published + dt.timedelta(days=DAY_STEP[m.group()])).isoformat()

    def _back_year(self, m):
        base = self.year or (self.published.year if self.published else None)
        if base is None:
            return None
        self.year = base + BACK_YEAR[m.group()]
        return f"{self.year:04d}"

    def _back_day(self, m):
        base = self.day or self.published
        if base is None:
            return None
        return (base + dt.timedelta(days=BACK_DAY[m.group()])).isoformat()

    # English: the same anchors, the same steps.
    def _en_full(self, m):
        self.year = int(m["en_fy"])
        self.day = _valid(self.year, _month(m["en_fm"]), int(m["en_fd"]))
        return None

    def _en_year(self, m):
        self.year = int(m.group())
        return None

    def _en_md(self, m):  # against the publication date only: English prose years ("in 2016")
        return self._on_month_day(_month(m["en_m"]), int(m["en_d"]), anchored=False)

    def _en_rel_day(self, m):
        if not self.published:
            return None
        step = {"yesterday": -1, "today": 0, "tomorrow": 1}[m.group().lower()]
        return (self.published + dt.timedelta(days=step)).isoformat()

    def _en_rel(self, m):
        if not self.published:
            return None
        step = {"last": -1, "this": 0, "next": 1}[m["en_step"].lower()]
        if m["en_unit"] == "year":
            self.year = self.published.year + step
            return f"{self.year:04d}"
        year, month = _shift_month(self.published.year, self.published.month, step)
        return f"{year:04d}-{month:02d}"

    def _en_back(self, m):
        step = {"same": 0, "next": 1, "following": 1, "previous": -1}[m["en_back_step"]]
        if m["en_back_unit"] == "year":
            base = self.year or (self.published.year if self.published else None)
            if base is None:
                return None
            self.year = base + step
            return f"{self.year:04d}"
        base = self.day or self.published
        return (base + dt.timedelta(days=step)).isoformat() if base else None

    def _en_weekday(self, m):
        if m["en_wy"]:  # "Monday, November 18, 2019": written in full
            self.year = int(m["en_wy"])
            self.day = _valid(self.year, _month(m["en_wm"]), int(m["en_wdd"]))
            return None
        if m["en_wm"]:  # "Saturday, May 18": the date says which Saturday
            return self._on_month_day(_month(m["en_wm"]), int(m["en_wdd"]), anchored=False)
        p = self.published
        if not p or _NAMED_DAY.search(self.text[max(0, m.start() - 8) : m.start()]):
            return None
        back = (p.weekday() - WEEKDAYS.index(m["en_wd"])) % 7  # days since that weekday
        step = (m["en_wd_step"] or "").lower()
        clause = _CLAUSE_START.split(self.text[max(0, m.start() - 200) : m.start()])[-1]
        if step == "next" or (step != "last" and _FUTURE.search(clause)):
            ahead = (7 - back) % 7 or (7 if step == "next" else 0)
            return self._on(p + dt.timedelta(days=ahead))
        return self._on(p - dt.timedelta(days=back or (7 if step == "last" else 0)))


def _month(name: str) -> int:
    return next(n for n, full in enumerate(MONTHS, 1) if full.startswith(name.rstrip(".")[:3]))


def _kind(m: re.Match) -> str:
    return next(k for k in KINDS if m[k])


KINDS = (
    "full", "md", "bare", "rel_year", "rel_month", "rel_day", "back_year", "back_day",
    "en_full", "en_year", "en_md", "en_rel_day", "en_rel", "en_back", "en_weekday",
)  # fmt: skip


def resolve(text: str, published: str = "") -> list[DateMention]:
    """The relative dates in ``text`` with what they mean, given the publication date."""
    reader = _Reader(_date(published), text)
    out = []
    for m in PATTERN.finditer(text):
        value = reader.read(m)
        if value:
            out.append(DateMention(m.start(), m.end(), m.group(), value))
    return out


def annotate(text: str, mentions: list[DateMention], offset: int = 0) -> str:
    """``text`` with each mention's date after it: "21일(2022-05-21)". ``offset``: where
    ``text`` starts in the text the mentions were found in."""
    out, at = [], 0
    for d in sorted(mentions, key=lambda d: d.start):
        end = d.end - offset
        if 0 <= d.start - offset and end <= len(text) and end >= at:
            out += [text[at:end], f"({d.value})"]
            at = end
    return "".join(out) + text[at:]


@dataclass(frozen=True)
class QuestionWindow:
    """The publication dates a question's own time words ask for, and those words."""

    date_from: str
    date_to: str
    words: str


QUESTION_TIME = re.compile(
    r"(?P<year>(?<!\d)(?:19|20)\d\d)년(?P<decade>대)?(?!\s*\d{1,2}월)"
    r"|(?:\b(?:in|during)\s+(?:the\s+)?)(?P<year_en>(?:19|20)\d\d)(?P<decade_en>s)?\b"
    r"|(?P<rel>올해|금년|지난해|작년|내년|this year|last year|next year)(?!\s*\d)"
    r"|(?:(?:지난|최근)\s*(?P<span>\d{1,2})년(?:간|동안)?"
    r"|(?:past|last|recent)\s+(?P<span_en>\d{1,2})\s+years)",
    re.I,
)
RELATIVE_YEAR = {"올해": 0, "금년": 0, "this year": 0, "지난해": -1, "작년": -1, "last year": -1}
RELATIVE_YEAR |= {"내년": 1, "next year": 1}


def question_window(question: str, today: dt.date | None = None) -> QuestionWindow | None:
    """Publication window named by a question's time words: a year ("2022년에"), a decade,
    "올해", "지난해"/"작년", "내년", "지난 3년"/"최근 3년". A year with a month or day names an
    event, not the articles' dates, and gives none; so does a question without time words."""
    today = today or dt.date.today()
    years, words = [], []
    for m in QUESTION_TIME.finditer(question):
        words.append(m.group())
        year, decade = m["year"] or m["year_en"], m["decade"] or m["decade_en"]
        if year:
            years.append((int(year), int(year) + (9 if decade else 0)))
        elif m["rel"]:
            y = today.year + RELATIVE_YEAR[m["rel"].lower()]
            years.append((y, y))
        else:
            years.append((today.year - int(m["span"] or m["span_en"]), today.year))
    if not years:
        return None
    start, end = min(y for y, _ in years), max(y for _, y in years)
    return QuestionWindow(f"{start:04d}-01-01", f"{end:04d}-12-31", ", ".join(words))
