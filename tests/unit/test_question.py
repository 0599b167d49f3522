"""Question analysis on a table of real questions (seed and KorQuAD phrasings), the constraint
check for each kind of near miss, and candidate short answers. Kiwi, no embedding model."""

import pytest

from rag.answering.question import analyse, unit_after
from rag.answering.reader import absent_names, constraint_failure
from rag.answering.spans import fits, has_fitting, phrases, to_unit
from rag.eval.metrics import exact_match, f1, fact_present, korquad_normalise
from rag.keywords import analyze_tokens
from rag.retrieve import Passage


@pytest.mark.parametrize(
    "question, wants, unit",
    [
        ("한국 국방비를 GDP 대비 몇 퍼센트로 늘리기로 했나?", "number", "%"),
        ("SCM에서 국방비 증액 목표가 GDP의 몇 %였어?", "number", "%"),
        ("한·미 기술 번영 양해각서는 언제 체결됐나?", "date", ""),
        ("한국은 아르테미스 약정에 몇 년에 서명했나?", "date", "년"),
        (
            "아르테미스 계획은 아폴로 프로젝트 종료 후 약 몇 년 만에 인류를 다시 달에 보내려는 "
            "계획인가?",
            "number",
            "년",
        ),
        ("한국은 아르테미스 약정에 몇 번째로 서명했나?", "number", "번째"),
        ("비즈니스 라운드테이블에 참가한 일본 기업은 몇 곳인가?", "number", "개"),
        ("이창양 장관의 나이는 몇 살인가?", "number", "살"),
        ("한미 공급망·산업 대화 양해각서에 서명한 한국 장관은 누구인가?", "person", ""),
        ("제58차 SCM은 어느 도시에서 열리나?", "place", ""),
        ("양해각서는 어디서 체결됐나?", "place", ""),
        ("미국 측 라운드테이블 참가 기업에는 어디가 있나?", "organization", ""),
        ("신설이 논의된 국방과학기술협력위원회의 약칭은?", "acronym", ""),
        ("한미 상무장관이 격상하기로 한 대화의 이름은?", "name", ""),
        ("양해각서는 법적 구속력이 있나?", "yesno", ""),
        ("공급망·산업 대화는 얼마나 자주 열리나?", "description", ""),
        ("When was the 57th SCM held?", "date", ""),
        ("How many French companies attended the business roundtable?", "number", ""),
        ("What share of GDP will Korea's defense budget rise to?", "number", "%"),
        (
            "Who was the Korean minister who signed the supply chain and industry dialogue MOU?",
            "person",
            "",
        ),
        ("In which hotel was the supply chain MOU signed?", "place", ""),
        ("What does the abbreviation SCWG stand for?", "acronym", ""),
        ("How old is Commerce Secretary Raimondo?", "number", "살"),
        ("성능 설정을 기본으로 몇으로 해놓았나?", "number", ""),  # a particle is no unit
        ("그 구조와 빅뱅 사이의 시간은 몇 년인가?", "number", "년"),  # a span of years
        ("공사 기간은 몇 년인가?", "number", "년"),
        ("개장 시간은 몇 시인가?", "date", "시"),  # the hour of a time
        ("행사는 며칠에 열렸나?", "date", "일"),  # 며칠: 몇 일 in one word
        ("그는 며칠 동안 심문을 받았는가?", "number", "일"),
        ("시간을 모두 쓰면 게임은 어떻게 되는가?", "description", ""),  # Kiwi: 어떻 (VA-I) + 게
        ("청은 어떠한 정책으로 정성공을 압박하였는가?", "name", ""),
    ],
)
def test_the_kind_of_answer_a_question_wants(question, wants, unit):
    q = analyse(question)
    assert (q.wants, q.unit) == (wants, unit)


@pytest.mark.parametrize(
    "question, predicates",
    [
        ("김이수가 태어난 날짜는?", ("태어나",)),
        ("DMZ 관광청이 발족한 해는?", ("발족",)),  # a verb noun before 하다
        ("한국은 아르테미스 약정에 몇 년에 서명했나?", ("서명",)),
        ("블루스에서 그 음을 무엇이라고 부르나?", ()),  # the question's frame, not a relation
        ("이 법안에 따르면 예산은 얼마인가?", ()),  # a verb acting as a postposition
        ("양해각서는 법적 구속력이 있나?", ()),
        ("Who signed the MOU?", ()),  # English: none
        ("그는 어디서 걸었나?", ("걸",)),  # an irregular verb (Kiwi: VV-I)
        ("청은 어떠한 정책으로 정성공을 압박하였는가?", ("압박",)),  # not the question word
    ],
)
def test_the_relation_a_question_asks_about(question, predicates):
    assert analyse(question).predicates == predicates


@pytest.mark.parametrize(
    "sentence, unit",
    [
        ("이는 헌법 제89조에 따라 국무회의의 심의를 거쳐야 한다.", "조"),  # 조 as a counter
        ("미국의 무역확장법 232조 조치의 유연성 재고를 요청했다.", "조"),
        ("삼성은 3조 원을 투자한다.", "원"),  # 조 as a magnitude
        ("2조 달러 규모의 투자", "달러"),
        ("1만 명이 모였다.", "명"),
        ("35만 개의 일자리", "개"),
        ("시민 30여 명이 모였다.", "명"),  # 여: more than, not the unit
        ("100여 개국이 참가했다.", "개"),
        ("3천여 명이 모였다.", "명"),
    ],
)
def test_a_magnitude_word_is_a_unit_only_when_it_counts(sentence, unit):
    tokens = analyze_tokens([sentence])[0]
    first_number = next(k for k, t in enumerate(tokens) if t.tag == "SN")
    assert unit_after(tokens, first_number) == unit
    assert has_fitting(sentence, tokens, "number", (unit,), "몇?")


def test_constraints_are_read_off_the_question():
    q = analyse("제58차 SCM에서 한국 국방비를 GDP 대비 몇 퍼센트로 올리기로 했나?")
    assert ("58", "차") in q.numbers and {"scm", "gdp", "한국"} <= set(q.entities)
    assert analyse("이창양 장관의 나이는 몇 살인가?").attribute == "나이"
    assert "일본" in analyse("비즈니스 라운드테이블에 참가한 일본 기업은 몇 곳인가?").entities


def _passage(text, title="제57차 한미안보협의회의(SCM) 결과"):
    return Passage(
        "c-0",
        "a.txt",
        title,
        "2025-11-15",
        "blog",
        text,
        0,
        len(text),
        1,
        0.9,
        1.0,
        1.0,
        ((0, 0, 10),),
    )


SCM = "한미 양국은 이번 제57차 SCM에서 한국 국방비를 GDP 대비 3.5%로 확대하는 데 공감했다."
ROUNDTABLE = "비즈니스 라운드테이블에는 반도체·배터리 분야 기업 16곳이 참가했다."


@pytest.mark.parametrize(
    "question, sentence, failure",
    [
        (
            "제58차 SCM에서 국방비를 GDP 대비 몇 퍼센트로 올리기로 했나?",
            SCM,
            "number:57차",
        ),  # another ordinal
        ("제57차 SCM에서 국방비를 GDP 대비 몇 퍼센트로 올리기로 했나?", SCM, ""),  # the same one
        (
            "2024년에 국방비를 GDP 대비 몇 퍼센트로 올리기로 했나?",
            SCM,
            "",
        ),  # a year is not an ordinal
        ("What did the 58th SCM agree on defense spending?", SCM, "number:57차"),  # in English
        ("What did the 57th SCM agree on defense spending?", SCM, ""),
        ("What did the SCM agree in 2024?", SCM, ""),
    ],
)
def test_a_sentence_about_another_ordinal_cannot_answer(question, sentence, failure):
    assert constraint_failure(analyse(question), sentence, _passage(sentence)) == failure


def test_the_title_says_which_meeting_a_passage_is_about():
    """The passage does not repeat the ordinal; its article's title does."""
    q = analyse("제58차 SCM에서 국방비를 GDP 대비 몇 퍼센트로 올리기로 했나?")
    plain = "한미 양국은 이번 SCM에서 한국 국방비를 GDP 대비 3.5%로 확대하는 데 공감했다."
    assert constraint_failure(q, plain, _passage(plain)) == "number:57차"
    assert constraint_failure(q, plain, _passage(plain, title="한미 안보협의")) == ""


TECH_DEAL = "한·미 기술 번영 양해각서는 언제 체결됐나?"


@pytest.mark.parametrize(
    "question, sentence, failure",
    [
        (TECH_DEAL, "9월 18일 미·영은 기술 번영 협력 양해각서를 체결했다.", "country:미국·영국"),
        (TECH_DEAL, "2025년 10월 29일 한·미 양국은 기술 번영 양해각서를 체결했다.", ""),
        (TECH_DEAL, "한·미·일 3국은 같은 날 양해각서를 체결했다.", ""),  # a group holding the pair
        (TECH_DEAL, "양국은 10월 29일 양해각서를 체결했다.", ""),  # no group of its own
        ("기술 번영 양해각서는 언제 체결됐나?", "9월 18일 미·영은 양해각서를 체결했다.", ""),
        ("한일 정상회담은 언제 열렸나?", "한중 정상회담은 11월에 열렸다.", "country:중국·한국"),
        (TECH_DEAL, "미국은 영국·일본과도 각각 양해각서를 체결했다.", "country:미국·영국·일본"),
        (
            "한국과 미국은 언제 양해각서를 맺었나?",
            "미국은 영국과도 양해각서를 맺었다.",
            "country:미국·영국",
        ),
        ("대한민국과 미국은 언제 양해각서를 맺었나?", "한국과 미국은 10월에 맺었다.", ""),
        (TECH_DEAL, "미국은 같은 날 다른 양해각서를 발표했다.", ""),  # one country: no relation
        (
            "로널드 레이건 대통령 밑에서 일한 국무 장관은 누구인가?",  # 일한: worked, not 일·한
            "그는 미국과 영국의 관계 속에서 레이건 정부의 국무 장관을 지냈다.",
            "",
        ),
    ],
)
def test_a_sentence_about_another_pair_of_countries_cannot_answer(question, sentence, failure):
    """The passage names the question's countries too (it is in the article): the countries the
    sentence itself names, abbreviated or in full, say which relation it tells of."""
    passage = _passage(sentence + " 한·미 한일 양국의 협력도 이어졌다.")
    assert constraint_failure(analyse(question), sentence, passage) == failure


def _span_options(question: str, sentence: str) -> list:
    """The reader's (phrase, features) for ``sentence`` as a candidate answer to ``question``."""
    from rag.answering.reader import Candidate, span_candidates
    from rag.chunking import Span

    tokens = analyze_tokens([sentence])[0]
    return span_candidates(
        analyse(question), Candidate(0, Span(0, len(sentence), sentence), tokens, {})
    )


@pytest.mark.parametrize(
    "question, sentence, span",
    [
        (
            TECH_DEAL,
            "2025년 10월 29일 한·미 양국은 ‘한·미 기술 번영 양해각서(Memorandum of Understanding "
            "Between the Government of the Republic of Korea and the Government of the United "
            "States of America)’를 체결했다.",
            "date",
        ),
        ("국방비를 몇 퍼센트로 늘리나?", SCM, "number"),
        ("누가 서명했나?", SCM, None),  # a person: every phrase competes
    ],
)
def test_a_date_or_number_question_weighs_only_phrases_of_that_kind(question, sentence, span):
    options = _span_options(question, sentence)
    kinds = [p.kinds for p, _ in options]
    if span:
        assert kinds and all(span in k for k in kinds)
    else:
        assert any("date" not in k and "number" not in k for k in kinds)


@pytest.mark.parametrize(
    "question, sentence, options",
    [
        ("지명수배된 연도는?", "그는 1989년 2월 15일 지명수배되었다.", ["1989년"]),
        ("대표단을 보낸 날짜는?", "정부는 2003년 3월 9일 대표단을 보냈다.", ["2003년 3월 9일"]),
        ("자녀를 몇 명 두었는가?", "그는 슬하 3명의 자녀를 두었다.", ["3명"]),
        ("방주는 몇층으로 되어 있었는가?", "방주는 상 ·중 ·하 3층으로 되어 있었다.", ["3층"]),
        ("언제 보냈나?", "2003년 3월 9일 보냈다.", ["2003년 3월 9일", "2003년", "9일"]),  # any
    ],
)
def test_a_short_answer_is_of_the_grain_asked(question, sentence, options):
    found = _span_options(question, sentence)
    texts = [p.text for p, _ in found]
    assert set(options) <= set(texts)
    if len(options) == 1:
        assert texts == options


def test_the_span_features_read_the_question_words_around_a_phrase():
    sentence = "한미 양국은 한국 국방비를 GDP 대비 3.5%로 확대하는 데 공감했다."
    asked = "국방비를 GDP 대비 몇 퍼센트로 확대하나?"
    features = {p.text: f for p, f in _span_options(asked, sentence)}
    assert features["3.5%"]["left_match"] == 1.0  # "GDP 대비" are the question's
    assert features["3.5%"]["verb_after_match"] == 1.0  # so is the verb after it, 확대
    features = {p.text: f for p, f in _span_options("한미 양국은 무엇에 공감했나?", sentence)}
    assert features["3.5%"]["verb_after_match"] == 0.0  # 확대 is not the question's verb
    assert features["한국 국방비"]["left_match"] > features["3.5%"]["left_match"]


def test_a_noun_made_a_verb_is_marked_as_an_action_not_a_thing():
    sentence = "강원도는 2008년 7월 DMZ 관광청을 발족해 운영하고 있다."
    features = {p.text: f for p, f in _span_options("강원도가 발족한 관청의 이름은?", sentence)}
    assert features["운영"]["verb_noun"] == 1.0  # 운영 + 하고
    assert features["DMZ 관광청"]["verb_noun"] == 0.0


@pytest.mark.parametrize(
    "question, absent",
    [
        ("비즈니스 라운드테이블에 참가한 일본 기업은 몇 곳인가?", ["일본"]),  # a country not named
        ("비즈니스 라운드테이블에 참가한 기업은 몇 곳인가?", []),
        ("러만도 장관의 나이는 몇 살인가?", ["러만도"]),  # someone absent
        ("비즈니스 라운드테이불에 참가한 기업은?", []),  # misspelt, two thirds of it found
    ],
)
def test_names_no_passage_mentions(question, absent):
    assert absent_names(analyse(question), [_passage(ROUNDTABLE)]) == absent


OLYMPICS = "1992년 바르셀로나 올림픽에서는 도널드 트럼프가 조지 거슈윈의 곡을 들었다."


@pytest.mark.parametrize(
    "question, absent",
    [
        ("바르세롤나 올림픽에서 우승한 선수는?", []),  # two letters off in five syllables
        ("도날드 트럼프는 무엇을 들었나?", []),  # one letter off in three
        ("조지 거쉬윈의 대표곡은?", []),
        ("바르샤바 올림픽에서 우승한 선수는?", ["바르샤바"]),  # another city
        ("도미닉 트럼프는 무엇을 들었나?", ["도미닉"]),  # another person
    ],
)
def test_a_name_spelt_another_way_is_held(question, absent):
    """Foreign names are transliterated more than one way and questions misspell them: a name of
    three or more syllables is held within a letter's edit per three syllables, not further."""
    assert absent_names(analyse(question), [_passage(OLYMPICS)]) == absent


@pytest.mark.parametrize(
    "question, text, absent",
    [
        (
            "북한이 금강산을 보호하는 법률은?",
            "조선민주주의인민공화국이 채택한 법에 따라 금강산은 보호된다.",
            [],
        ),
        (
            "북한이 금강산을 보호하는 법률은?",
            "대한민국이 채택한 법에 따라 금강산은 보호된다.",
            ["북한"],
        ),
        ("한국에서 가장 오래된 아파트는?", "가장 오래된 충정아파트는 1933년에 지어졌다.", []),
    ],
)
def test_a_country_is_held_by_any_of_its_names_and_korea_need_not_be_named(question, text, absent):
    assert absent_names(analyse(question), [_passage(text)]) == absent


def test_candidate_short_answers_include_the_right_span():
    sentence = (
        "이창양 산업통상자원부 장관과 지나 러만도 미국 상무장관은 21일 서울 하얏트호텔에서 "
        "양해각서(MOU)를 체결했다."
    )
    found = {p.text: p for p in phrases(sentence)}
    assert {"이창양", "러만도", "21일", "하얏트호텔", "MOU", "서울 하얏트호텔"} <= set(found)
    assert fits(found["21일"], "date") and not fits(found["하얏트호텔"], "date")
    assert fits(found["하얏트호텔"], "place") and fits(found["MOU"], "acronym")
    share = {p.text: p for p in phrases(SCM)}
    assert fits(share["3.5%"], "number", ("%",)) and not fits(share["3.5%"], "number", ("개",))
    assert share["3.5%"].unit() == "%" and {
        p.unit() for p in phrases(ROUNDTABLE) if p.text == "16곳"
    } == {"개"}


def test_korquad_official_normalisation_exact_match_and_f1():
    assert korquad_normalise("《교향곡》 (1번)") == "교향곡 1번"
    assert exact_match("‘이창양’", "이창양") and not exact_match("이창양 장관", "이창양")
    assert f1("이창양 장관", "이창양") == pytest.approx(2 * 0.6 * 1.0 / 1.6)
    assert f1("러만도", "이창양") == 0.0


def test_a_fact_is_found_across_the_short_answers_bold_marks():
    answer = "**파우스트** — 바그너는 **파우스트** 서곡을 썼다. [1]"
    assert fact_present(["파우스트 서곡"], answer)
    assert not fact_present(["교향곡 1번"], answer)


@pytest.mark.parametrize(
    "question, sentence, fitting",
    [
        ("회의에 몇 나라가 참여했나?", "회의에는 21개국이 참여했다.", True),  # countries: 개국
        ("낮 기온은 몇 도까지 올랐나?", "낮 기온이 35°C까지 올랐다.", True),
        ("낮 기온은 몇 도까지 올랐나?", "낮 기온이 35℃까지 올랐다.", True),
        ("낮 기온은 몇 도까지 올랐나?", "낮 기온이 35'C까지 올랐다.", True),
        ("이 호수의 어종은 몇 종인가?", "어종은 약 120(±15)종으로 추정된다.", True),  # an aside
        ("성당은 몇 세기에 지어졌나?", "성당은 12-13세기에 지어졌다.", True),  # a range
        ("2003년 대회에는 몇 명이 나갔나?", "2003년 대회에는 선수 3명이 나갔다.", True),
        ("선수 3명 중 몇 명이 돌아왔나?", "선수 3명이 대회에 나갔다.", False),  # the question's
        ("성당은 몇 세기에 지어졌나?", "성당은 12-13년에 걸쳐 지어졌다.", False),
        ("아파트는 몇 개의 단지로 이루어져 있나?", "아파트는 1단지에서 7단지까지 지어졌다.", True),
        ("아파트는 몇 개의 단지로 이루어져 있나?", "아파트는 1981년에 지어졌다.", False),
        ("집회에 몇 명이 모였나?", "집회에는 시민 700여명이 모였다.", True),  # about 700
        ("천사는 몇 등급으로 나뉘는가?", "천사의 아홉 등급이 있다.", True),  # a native numeral
        ("천사는 몇 등급으로 나뉘는가?", "천사의 등급은 복잡하다.", False),
    ],
)
def test_a_number_of_the_asked_unit_is_found_however_it_is_written(question, sentence, fitting):
    """A sentence holds an answer to a number question when a number of the asked unit is in it
    that the question does not hold whole ("3" is not given by "2003년"): a counter of the
    same thing spelt otherwise, a degree sign, an aside between number and unit, a range."""
    q = analyse(question)
    tokens = analyze_tokens([sentence])[0]
    assert has_fitting(sentence, tokens, q.wants, q.units, question) is fitting


@pytest.mark.parametrize(
    "question, span, fitting",
    [
        ("공사는 몇 년 동안 이어졌나?", "10년", True),  # a count of years reads like a date
        ("성당은 몇 세기에 지어졌나?", "13세기", True),
        ("공사는 몇 년 동안 이어졌나?", "3개월", False),
        ("공사는 얼마나 걸렸나?", "2002년", False),  # no unit asked: a year is not a count
        ("아파트는 몇 개의 단지로 이루어져 있나?", "7단지", True),  # the counted noun
    ],
)
def test_a_count_is_a_short_answer_to_a_number_question(question, span, fitting):
    q = analyse(question)
    found = {p.text: p for p in phrases(f"그것은 {span}이었다.")}
    assert fits(found[span], q.wants, q.units) is fitting


@pytest.mark.parametrize(
    "question, wants",
    [
        ("양측 모두 어떤 시점에서든지 선언할 수 있는 것은?", "name"),  # any time: not asked
        ("누구나 볼 수 있는 곳은?", "place"),
        ("언제든지 쓸 수 있는 것은 무엇인가?", "name"),
        ("회담은 어느 시점에 열리나?", "date"),
        ("누가 서명했나?", "person"),
        ("와우시민아파트의 공사 기간은?", "number"),  # a length of time, not a date
    ],
)
def test_an_indefinite_question_word_is_not_what_is_asked(question, wants):
    assert analyse(question).wants == wants


def test_an_english_questions_content_words_and_the_passages_morphemes():
    from rag.answering.align import english_words, passage_morphemes

    assert english_words("Where did the commerce ministers sign the supply chain MOU?") == [
        "commerce",
        "ministers",
        "sign",
        "supply",
        "chain",
        "mou",
    ]
    text = "안규백 국방부 장관이 케빈 킴 주한 미국대사 대리와 만나 동맹의 협력 방향을 논의했다."
    found = passage_morphemes([_passage(text)])
    assert {"안규백", "장관", "만나", "동맹", "협력", "논의"} <= set(found)
    assert "의" not in found and "를" not in found and found == sorted(found)


@pytest.mark.parametrize(
    "sentence, phrase, cut",
    [
        ("배수량은 2000톤 정도였다.", "2000톤 정도", "2000톤"),
        ("대폭발을 일으켜 2분만에 굉침되었다.", "2분만", "2분"),  # inside a word
        ("40~50%정도가 그렇다.", "40~50%정도", "40~50%"),
        ("지원금은 300만 원 이상이다.", "300만 원 이상", "300만 원"),  # past the magnitude
        ("세 번째 경기에서 이겼다.", "세 번째 경기", "세 번째"),
        ("600만 관객을 모았다.", "600만 관객", "600만 관객"),  # the counted noun is the unit
        ("19-20세기 철학이다.", "19-20세기", "19-20세기"),  # nothing after the unit
        ("시민 30여 명 정도가 모였다.", "30여 명 정도", "30여 명"),  # 여 is part of the number
    ],
)
def test_a_number_phrase_is_cut_after_its_unit(sentence, phrase, cut):
    tokens = analyze_tokens([sentence])[0]
    found = next(p for p in phrases(sentence, tokens) if p.text == phrase)
    assert to_unit(found, sentence, tokens).text == cut


@pytest.mark.parametrize(
    "question, entities",
    [
        ("How many US troops are stationed in Korea?", ("미국", "한국")),
        ("When did the U.S. sign its memorandum with Japan?", ("미국", "일본")),
        ("What did South Korea and Australia agree on?", ("한국", "호주")),  # CLDR's → news's
        ("Where was the United Kingdom's memorandum signed?", ("영국",)),
        ("Where did the commerce ministers sign the supply chain MOU?", ("mou",)),  # no country
        ("How many French and American firms attended?", ("프랑스", "미국")),  # demonyms
        ("Who was the Korean minister who signed it?", ("한국",)),
    ],
)
def test_an_english_questions_countries_are_read_in_korean(question, entities):
    from rag.answering.align import with_country_names

    q = with_country_names(analyse(question))
    assert q.entities == entities
    assert set(entities) <= set(q.terms)


def test_an_english_question_about_a_country_no_article_names():
    """The same checks as for a Korean question: a country no passage names is absent, and a
    sentence about another pair of countries cannot answer."""
    from rag.answering.align import with_country_names

    asked = with_country_names(analyse("How many companies from Germany attended?"))
    assert absent_names(asked, [_passage(ROUNDTABLE)]) == ["독일"]
    asked = with_country_names(analyse("How many German companies attended the roundtable?"))
    assert absent_names(asked, [_passage(ROUNDTABLE)]) == ["독일"]  # a demonym names it too
    asked = with_country_names(analyse("When did Korea and the US sign the memorandum?"))
    sentence = "9월 18일 미·영은 양해각서를 체결했다."
    assert constraint_failure(asked, sentence, _passage(sentence)).startswith("country:")


def test_an_english_answer_names_a_country_as_the_question_did():
    from rag.answering.align import english_name

    assert english_name("When did the U.S. and Germany sign it?", "미국") == "U.S."
    assert english_name("When did the U.S. and Germany sign it?", "독일") == "Germany"
    assert english_name("When did the U.S. and Germany sign it?", "일본") == "일본"  # not asked


@pytest.mark.parametrize(
    "question, conflict, explanation",
    [
        (
            "제59차 SCM은 무엇에 합의했나?",
            "number:57차",
            "기사에는 59차가 아니라 57차에 관한 내용만 있습니다.",
        ),
        (
            "What did the 59th SCM agree on?",
            "number:57차",
            "The articles only cover 57차, not 59th.",
        ),
        (
            "When did Korea and Germany sign it?",
            "country:미국·한국",
            "The articles only cover 미국·한국, not Korea and Germany.",
        ),
    ],
)
def test_an_abstention_says_what_the_articles_cover_instead(question, conflict, explanation):
    from rag.answering.align import with_country_names
    from rag.answering.compose import _explain
    from rag.answering.reader import Candidate
    from rag.chunking import Span

    nearest = Candidate(0, Span(0, 3, "..."), [], {}, conflict)
    assert _explain(with_country_names(analyse(question)), nearest, []) == explanation


@pytest.mark.parametrize(
    "question, unit",
    [
        ("구글은 라운드테이블에서 얼마를 투자하겠다고 밝혔나?", "돈"),
        ("2010년 대한민국 정부의 채무는 얼마를 넘어섰는가?", "돈"),
        ("서울 아파트 평균 가격은 얼마인가?", "돈"),
        ("How much did Korea invest in the Artemis program?", "돈"),
        ("한국의 2025년 국방 예산은 몇 조 원인가?", "원"),  # the counter asked
        ("몇 개 기업이 투자했나?", "개"),  # counts companies, not money
        ("공급망·산업 대화는 얼마나 자주 열리나?", ""),  # no money named
    ],
)
def test_a_question_about_money_wants_a_sum(question, unit):
    assert analyse(question).unit == unit


@pytest.mark.parametrize(
    "sentence, money",
    [
        ("2010년 대한민국 정부의 채무가 400조를 돌파하였다.", True),  # a magnitude ends it
        ("뉘르부르크링 공사에 2천7백만 유로가 들어갔다.", True),
        ("예산 100만 캐나다 달러를 절감할 수 있다.", True),
        ("김경준에게 벌금 150억원을 선고했다.", True),
        ("미국 측에서도 구글 등 8개 기업 관계자가 참석했다.", False),
        ("행사에는 100만 명이 모였다.", False),
        ("아르테미스 계획(Artemis Program)3) 참여", False),  # a footnote's number
    ],
)
def test_a_sum_of_money_is_found_in_any_currency(sentence, money):
    q = analyse("그 사업에 얼마를 투자했나?")
    assert has_fitting(sentence, analyze_tokens([sentence])[0], q.wants, q.units, q.text) is money


@pytest.mark.parametrize(
    "question, entities",
    [
        ("사이버 분야 동맹은 영어로 뭐라고 해?", ()),  # the answer's language, not its topic
        ("대모는 일본어로 무엇이라고 알려져 있는가?", ()),
        ("동맹은 영어로 어떻게 부르나?", ()),
        ("일제 강점기 당시 일본어로 개명한 김영삼의 이름은?", ("일본어", "김영삼")),  # asked about
    ],
)
def test_the_language_an_answer_is_asked_in_is_not_a_name_it_must_meet(question, entities):
    assert analyse(question).entities == entities


def test_a_question_word_kiwi_reads_as_a_name_is_still_the_question_word():
    q = analyse("국가 원수격인 누가 책임정부의 대신을 공식적으로 임명하는가?")  # 누가: NNP (Luke)
    assert q.wants == "person"
    assert "누가" not in q.entities


@pytest.mark.parametrize(
    "question, sentence, able, unable",
    [
        (
            "미국은 일본과 언제 양해각서를 체결했나?",
            "미국은 영국·일본과도 양해각서를 체결했다.",
            [],
            ["영국·일본"],
        ),
        (
            "양해각서를 체결한 한국 측 인사는 누구인가?",
            "◇ 한미 상무장관, 이창양 장관과 러만도 장관이 MOU 체결",
            ["이창양"],
            ["한미 상무장관"],
        ),
        (
            "양해각서는 언제 체결됐나?",
            "양국은 2025년 10월 29일 양해각서를 체결했다.",
            ["2025년 10월 29일"],
            [],
        ),
    ],
)
def test_a_short_answer_must_be_of_a_kind_that_can_answer(question, sentence, able, unable):
    """ "When" is answered by a date, "who" not by a country, whatever the span model prefers."""
    from rag.answering.reader import can_answer

    q = analyse(question)
    verdicts = {p.text: can_answer(q, p) for p, _ in _span_options(question, sentence)}
    assert all(verdicts[t] for t in able)
    assert not any(verdicts[t] for t in unable)


SIGNED = (
    "이창양 산업통상자원부 장관과 지나 러만도 미국 상무장관은 '한미 공급망·산업 대화' "
    "양해각서(MOU)를 체결했다."
)


def test_a_name_kiwi_splits_before_a_determiner_is_no_phrase_of_its_own():
    # Kiwi reads 이창양 as 이창 + 양 (a determiner): the name is a phrase, its first part is not
    found = [p.text for p in phrases(SIGNED)]
    assert "이창양" in found and "이창" not in found
    assert "2500명" in [p.text for p in phrases("공사에는 총 2500명이 동원되었다.")]  # a particle


def test_a_bracketed_gloss_of_a_question_word_is_marked_as_one():
    from rag.answering.reader import Candidate, span_candidates
    from rag.chunking import Span

    q = analyse("한미 공급망·산업 대화 양해각서에 서명한 한국 장관은 누구인가?")
    candidate = Candidate(0, Span(0, len(SIGNED), SIGNED), analyze_tokens([SIGNED])[0], {})
    glosses = {p.text: f["glosses_question"] for p, f in span_candidates(q, candidate)}
    assert glosses["MOU"] == 1.0  # 양해각서(MOU): the question's own word, in English
    assert glosses["이창양"] == 0.0 and glosses["양해각서"] == 0.0


def test_a_phrase_shows_whether_it_is_a_name_or_a_name_with_its_title():
    # The span model learns that the answer is the name ("노무현"), not the name and its title
    sentence = "측근비리 등으로 수사를 받던 노무현 대통령이 자살하자 의혹이 제기되어 왔다."
    options = {p.text: f for p, f in _span_options("자살하여 숨진 대통령은 누구인가?", sentence)}
    named, titled = options["노무현"], options["노무현 대통령"]
    assert (named["starts_name"], named["ends_name"], named["ends_title"]) == (1.0, 1.0, 0.0)
    assert (titled["starts_name"], titled["ends_name"], titled["ends_title"]) == (1.0, 0.0, 1.0)
    assert titled["ends_common"] == 1.0 and options["측근비리"]["starts_common"] == 1.0


@pytest.mark.parametrize(
    "question, asked",
    [("누가 양해각서에 서명했나?", 1), ("무엇을 들고 시위했나?", 2), ("대통령은 누구인가?", 0)],
)
def test_a_phrase_shows_its_role_beside_the_role_the_question_asks_for(question, asked):
    # The particle after the question word (가, 을) and after each phrase (이, 를) give a role
    sentence = "이창양 장관이 양해각서를 체결했다."
    options = {p.text: f for p, f in _span_options(question, sentence)}
    assert options["이창양 장관"]["role"] == 1.0 and options["양해각서"]["role"] == 2.0
    assert options["이창양 장관"]["asked_role"] == asked


@pytest.mark.parametrize(
    "sentence, quoted",
    [
        ("그는 영화 《우리 집에 왜 왔니》로 데뷔했다.", "우리 집에 왜 왔니"),
        ("반군은 러시아를 '잔혹한 점령군'이라고 비난했다.", "잔혹한 점령군"),
        ("양국은 ‘한미 공급망·산업 대화’ 양해각서를 체결했다.", "한미 공급망·산업 대화"),
    ],
)
def test_what_a_sentence_quotes_is_a_candidate_whole(sentence, quoted):
    # A title or quoted name of several words (verbs and particles included) is one phrase, marked
    # as quoted, with the particle after its closing mark as what follows it
    options = {p.text: (p, f) for p, f in _span_options("그것은 무엇인가?", sentence)}
    phrase, features = options[quoted]
    assert features["quoted"] == 1.0 and phrase.after not in "'’》"
    assert all(f["quoted"] == 0.0 for text, (_, f) in options.items() if text != quoted)
