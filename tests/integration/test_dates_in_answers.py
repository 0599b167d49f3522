"""Dates in answers: a cited relative day carries its date; a question's own time words
choose the articles searched, and the answer says which window was used."""

from rag.answering import ask


def test_a_cited_relative_day_carries_its_date(seed_settings):
    answer = ask("한미 공급망·산업 대화 양해각서에 서명한 한국 장관은 누구인가?", seed_settings)
    dated = [(d.text, d.value) for c in answer.citations for d in c.dates]
    assert ("21일", "2022-05-21") in dated


def test_a_year_in_the_question_limits_the_search_and_says_so(seed_settings):
    answer = ask("2022년 한미 비즈니스 라운드테이블에는 몇 개 기업이 참가했나?", seed_settings)
    assert any("2022-01-01 ~ 2022-12-31" in n for n in answer.notes), answer.notes
    assert answer.passages and {p.published[:4] for p in answer.passages} == {"2022"}
    english = ask("How many companies joined the round table in 2022?", seed_settings)
    assert any(n.startswith("Searched articles published 2022") for n in english.notes)


def test_a_window_with_no_articles_falls_back_to_all_and_says_so(seed_settings):
    answer = ask("1990년에 한미 공급망·산업 대화에 참가한 기업은 몇 개인가?", seed_settings)
    assert any("모든 기사에서 찾았습니다" in n for n in answer.notes), answer.notes
    assert answer.passages  # searched all articles instead
