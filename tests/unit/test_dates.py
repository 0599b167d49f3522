"""Relative dates resolved against the publication date or the text's last date."""

import pytest

from rag.dates import annotate, resolve


def _values(text, published=""):
    return [(m.text, m.value) for m in resolve(text, published)]


@pytest.mark.parametrize(
    "text, published, expected",
    [
        ("장관은 21일 서명했다.", "2022-05-21", [("21일", "2022-05-21")]),
        ("회의는 25일 열렸다.", "2022-05-03", [("25일", "2022-04-25")]),  # past: last month
        ("회의는 오는 2일 열린다.", "2022-05-28", [("오는 2일", "2022-06-02")]),
        ("회의는 24일 열린다.", "2022-05-21", [("24일", "2022-05-24")]),  # within the week
        ("또 지난해 11월 합의한", "2022-05-21", [("지난해 11월", "2021-11")]),
        ("올해가 수교 140주년", "2022-05-21", [("올해", "2022")]),
        ("어제 발표, 내일 만난다", "2022-05-21", [("어제", "2022-05-20"), ("내일", "2022-05-22")]),
        ("지난달 합의, 다음 달", "2022-01-10", [("지난달", "2021-12"), ("다음 달", "2022-02")]),
        ("12월 20일 발표된", "2022-01-05", [("12월 20일", "2021-12-20")]),  # not 11 months ahead
        (
            "1984년 5월 19일 기록을 세웠다. 그해 올림픽에 못 나갔다. 이듬해 은메달, 같은 해 6월",
            "",
            [("그해", "1984"), ("이듬해", "1985"), ("같은 해", "1985")],
        ),
        ("2009년 8월 30일 공연을 열었다. 공연 다음 날 그는", "", [("다음 날", "2009-08-31")]),
        ("5월 어린이날을 기념하면서", "2015-05-05", []),  # "이날" inside a word is no date
        ("오늘날 반도체 산업은", "2022-05-21", []),  # "nowadays", not the publication day
        ("3일간 열린 회의, 2일째", "2022-05-21", []),  # durations are no dates
        ("21일 서명했다.", "", []),  # a bare day with no publication date: unknown
    ],
)
def test_relative_dates_resolve(text, published, expected):
    assert _values(text, published) == expected


@pytest.mark.parametrize(
    "text, published, expected",
    [
        ("Cook said Tuesday in a chat.", "2019-11-20", [("Tuesday", "2019-11-19")]),
        ("Russia beat Croatia on Monday.", "2019-11-18", [("Monday", "2019-11-18")]),  # that day
        ("Hill, who will testify Thursday.", "2019-11-20", [("Thursday", "2019-11-21")]),
        ("The plan will be ready, he said on Tuesday.", "2019-11-20", [("Tuesday", "2019-11-19")]),
        (
            "It closed next Tuesday and last Thursday",
            "2019-11-20",
            [("next Tuesday", "2019-11-26"), ("last Thursday", "2019-11-14")],
        ),
        ("during Black Friday, a named day", "2019-11-18", []),
        (
            "on Saturday, May 18. On Monday, November 18, 2019 it",
            "2019-11-19",
            [("Saturday, May 18", "2019-05-18")],
        ),
        (
            "published Oct. 25, after last month and next year",
            "2019-11-18",
            [("Oct. 25", "2019-10-25"), ("last month", "2019-10"), ("next year", "2020")],
        ),
        (
            "Yesterday and tomorrow",
            "2019-11-18",
            [("Yesterday", "2019-11-17"), ("tomorrow", "2019-11-19")],
        ),
        ("a rise in 2017 from the previous year", "2019-11-19", [("the previous year", "2016")]),
        (
            "On July 27, 2006, he wrote; the next day he",
            "2019-11-15",
            [("the next day", "2006-07-28")],
        ),
        ("2000 people came the same year", "2019-11-15", [("the same year", "2019")]),
        ("said on Tuesday.", "", []),  # no publication date: unknown
    ],
)
def test_english_relative_dates_resolve(text, published, expected):
    assert _values(text, published) == expected


def test_annotate_puts_the_date_after_each_mention():
    text = "장관은 21일 서명했다. 이날 회의는"
    assert annotate(text, resolve(text, "2022-05-21")) == (
        "장관은 21일(2022-05-21) 서명했다. 이날(2022-05-21) 회의는"
    )
    quote = text[4:13]  # "21일 서명했다." as cut from the article
    assert annotate(quote, resolve(text, "2022-05-21"), offset=4) == "21일(2022-05-21) 서명했다."


def test_a_questions_time_words_give_a_publication_window():
    import datetime as dt

    from rag.dates import question_window

    today = dt.date(2026, 12, 3)

    def window(q):
        w = question_window(q, today)
        return (w.date_from, w.date_to) if w else None

    assert window("2022년에 체결된 양해각서는?") == ("2022-01-01", "2022-12-31")
    assert window("올해 국방비는?") == ("2026-01-01", "2026-12-31")
    assert window("작년 합의는?") == ("2025-01-01", "2025-12-31")
    assert window("지난 3년 동안 열린 회의는?") == ("2023-01-01", "2026-12-31")
    assert window("최근 5년간 열린 회의는?") == ("2021-01-01", "2026-12-31")
    assert window("Which deals were signed in the past 2 years?") == ("2024-01-01", "2026-12-31")
    assert window("1950년대 협정은?") == ("1950-01-01", "1959-12-31")
    assert window("2022년 5월 21일에 무엇을 체결했나?") is None  # an event's date
    assert window("Which deal was signed in 2022?") == ("2022-01-01", "2022-12-31")
    assert window("What did the allies agree last year?") == ("2025-01-01", "2025-12-31")
    assert window("When was it signed, November 14, 2025?") is None
    assert window("양해각서는 언제 체결됐나?") is None


def test_every_row_of_the_date_table_points_at_its_words():
    """The benchmark's rows sit where they say in the text ingest indexes (a wrong offset would
    score a miss as the resolver's)."""
    import json

    from rag.bench.dates import TABLE, _text
    from rag.eval.korquad import KORQUAD_FILE

    data = json.loads(KORQUAD_FILE.read_text(encoding="utf-8"))["data"]
    rows = [json.loads(line) for line in TABLE.read_text(encoding="utf-8").splitlines() if line]
    assert {r["source"].split(":")[0] for r in rows} == {"korquad", "seed", "page"}
    for row in rows:
        text, offset = _text(row["source"], data)
        at = offset + row["start"]
        assert text[at : at + len(row["text"])] == row["text"], row
