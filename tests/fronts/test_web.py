"""The real Chainlit server as a subprocess, driven by Debian's headless chromium (Playwright).

Two servers: one on the seed articles (answers, uploads, history, ratings, safety), one on
KorQuAD articles with an LLM endpoint that streams slowly (starters made from that index,
the English interface, and no unchecked sentence ever in the page while an answer streams,
from a scripted reply and from Gemma 3 270M on llama.cpp).
"""

import json
import re
import shutil
import time

import pytest
from helpers import CHROMIUM, korean_pdf, need_chromium, quoted_in
from helpers import CHROMIUM_FLAGS as FLAGS

from rag.bench import webload


@pytest.fixture(autouse=True)
def _chromium():
    need_chromium()


EVIL = (
    "보안 점검 기사: 한미 연합 사이버 보안 점검 결과 이상 없음이 확인됐다고 국방부가 밝혔다. "
    '<script>window.__xss=1</script><img src=x onerror="window.__xss=1"> 점검은 매년 실시된다.'
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from helpers import SEEDS, make_settings

    from rag.indexing import ingest

    cwd = tmp_path_factory.mktemp("web")
    corpus = cwd / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "evil.txt").write_text(EVIL, encoding="utf-8")
    seed_settings = make_settings(cwd / "index")
    ingest([corpus], seed_settings, quiet=True)
    with webload.serve(seed_settings.index_dir, cwd=cwd) as (url, _):
        yield url, seed_settings


def _open(p, url: str, locale: str = "ko-KR"):
    browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale=locale)
    page.goto(url)
    page.wait_for_selector("#chat-input", timeout=60_000)
    page.locator("button[id^='starter-']").first.wait_for(timeout=90_000)  # the socket is up
    return browser, page


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, server[0])
        yield page
        browser.close()


def _ask(page, question: str):
    """Type and send; while the session is still connecting Enter is ignored, so press again."""
    box = page.locator("#chat-input")
    box.fill(question)
    for _ in range(24):
        box.press("Enter")
        try:
            page.locator(".step").filter(has_text=question[:12]).first.wait_for(timeout=5_000)
            return
        except Exception:
            continue
    raise AssertionError("the chat never accepted the question")


def test_korean_question_gets_a_cited_answer_with_the_passage_one_click_away(page, tmp_path):
    _ask(page, "한미는 한국 국방비를 GDP 대비 몇 퍼센트로 확대하는 데 공감했나?")
    answer = page.locator(".step").filter(has_text="기사 기준").last
    answer.wait_for(timeout=120_000)
    assert "3.5%" in answer.inner_text() and "**" not in answer.inner_text()  # bold, not stars
    link = answer.locator(".element-link").first
    assert link.inner_text().strip() == "[1]"
    link.click()
    panel = page.get_by_text("제57차 한미안보협의회의(SCM) 결과").last
    panel.wait_for(timeout=20_000)
    assert page.get_by_text("2025-11-15").count() >= 1
    assert (
        page.locator(".side-text .font-bold", has_text="3.5%로 확대").count() >= 1
    )  # cited sentence highlighted
    side = page.locator(".side-text").last.inner_text()
    assert "결론 — 21세기형 한미동맹" in side  # the whole article, not only the cited passage
    shot = tmp_path / "web-answer.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")


def test_unanswerable_question_abstains_with_related_reading(page, tmp_path):
    _ask(page, "서울 아파트 평균 가격은 얼마인가?")
    answer = page.locator(".step").filter(has_text="제공된 기사에서 답을 찾을 수 없습니다").last
    answer.wait_for(timeout=120_000)
    assert "관련 기사" in answer.inner_text() and answer.locator(".element-link").count() == 0
    shot = tmp_path / "web-abstain.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")


def test_script_in_an_article_is_shown_as_text(page):
    page.evaluate("window.__xss = 0")
    _ask(page, "한미 연합 사이버 보안 점검 결과는 어떻게 확인됐나?")
    answer = page.locator(".step").filter(has_text="점검").filter(has_text="기사 기준").last
    answer.wait_for(timeout=120_000)
    answer.locator(".element-link").first.click()
    page.wait_for_timeout(1500)
    assert page.get_by_text("<script>", exact=False).count() >= 1  # visible as text
    assert page.evaluate("window.__xss") == 0 and page.locator("img[src='x']").count() == 0


def test_html_in_a_question_is_shown_as_text(page):
    page.evaluate("window.__xss = 0")
    _ask(page, '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script> 전작권 전환')
    page.locator(".step").filter(has_text="onerror").first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__xss") == 0
    assert page.locator("img[src='x']").count() == 0


UPLOAD = """<!doctype html><html lang="ko"><head><meta charset="utf-8">
<title>미호강 빛축제 20일 개막</title><meta property="og:site_name" content="충청일보">
<meta property="article:published_time" content="2026-11-30"></head><body><article>
<h1>미호강 빛축제 20일 개막</h1>
<p>충북 청주시는 제3회 미호강 빛축제를 12월 20일부터 31일까지 연다고 밝혔다.</p>
<p>올해 축제에는 드론 620대가 동원되는 야간 공연이 처음 열린다. 시는 관람객 15만 명을
예상하고 있다.</p>
<p>축제 기간 미호강 산책로에는 조명 터널이 설치되며, 입장료는 무료다.</p>
</article></body></html>"""


def _answer_to(page, question: str, marker: str):
    """Ask, then the answer step that contains ``marker``, once it has finished streaming
    (Chainlit shows its stop button while the reply runs): read earlier, the short answer may be
    there without the quote that follows it."""
    _ask(page, question)
    answer = page.locator(".step").filter(has_text=marker).last
    answer.wait_for(timeout=120_000)
    page.locator("#stop-button").wait_for(state="hidden", timeout=120_000)
    return answer


def _attach(page, path):
    """Attach a file and wait until it is on the server; while the session is still connecting
    Chainlit refuses the file (404 or no request), so attach again, as a person would."""
    from playwright.sync_api import TimeoutError as NoResponse

    for _ in range(12):
        try:
            with page.expect_response(lambda r: "/project/file" in r.url, timeout=5_000) as sent:
                page.locator("input[type=file]").first.set_input_files([str(path)])
        except NoResponse:
            continue
        if sent.value.ok:
            return
        page.wait_for_timeout(1000)  # 404: the session is not up yet
    raise AssertionError("the attachment never reached the server")


def test_an_attached_article_is_added_and_answerable_at_once(page, tmp_path):
    article = tmp_path / "mihogang.html"
    article.write_text(UPLOAD, encoding="utf-8")
    _attach(page, article)
    answer = _answer_to(page, "미호강 빛축제에는 드론 몇 대가 동원되나?", "620대")
    summary = page.locator(".step").filter(has_text="기사 1건을 추가했습니다").last
    assert summary.count() == 1 and "새 기사 1" in summary.inner_text()
    answer.locator(".element-link").first.click()
    page.get_by_text("충청일보").last.wait_for(timeout=20_000)  # the panel names the uploaded file
    shot = tmp_path / "web-upload.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")


def test_an_attached_pdf_is_added_and_answerable_at_once(page, tmp_path):
    """A PDF, as a press release comes: its wrapped lines are read back as sentences, so the
    answer quotes one whole."""
    release = [
        "충북 청주시는 오송 호수공원에 수상 무대를 준공했다고 밝혔다. 무대는 객석 840석 규모로, "
        "사업비 42억 원이 들었으며 조명과 음향 설비를 갖췄다.",
        "시는 다음 달부터 주말마다 시민 무료 공연을 열 계획이다.",
    ]
    pdf = korean_pdf(tmp_path / "청주시 보도자료.pdf", "오송 호수공원 수상 무대 준공", release)
    _attach(page, pdf)
    answer = _answer_to(page, "오송 호수공원 수상 무대의 객석은 몇 석인가?", "840석")
    assert "사업비 42억 원이 들었으며" in answer.inner_text()  # the sentence, across its lines
    summary = page.locator(".step").filter(has_text="기사 1건을 추가했습니다").last
    assert "새 기사 1" in summary.inner_text()


def test_a_conversation_is_in_the_history_after_a_reload(page, tmp_path):
    question = "미래연합군사령부 완전운용능력 검증은 언제까지 추진하나?"
    _answer_to(page, question, "기사 기준")
    page.reload()
    page.wait_for_selector("#chat-input", timeout=60_000)
    past = page.locator("#thread-history a, #thread-history button, nav a").filter(
        has_text=question[:10]
    )
    past.first.wait_for(timeout=30_000)
    past.first.click()
    resumed = page.locator(".step").filter(has_text="기사 기준").first
    resumed.wait_for(timeout=30_000)
    assert "2026" in resumed.inner_text()
    assert page.locator(".step").filter(has_text=question[:15]).count() >= 1
    resumed.locator(".element-link").first.click()  # its source panel was kept too
    page.locator(".side-text").filter(has_text="완전운용능력").last.wait_for(timeout=20_000)
    shot = tmp_path / "web-history.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")


def test_a_thumbs_down_with_a_comment_is_stored_exported_and_run(page, server, tmp_path):
    from helpers import run_cli

    question = "한·미 기술 번영 양해각서는 언제 체결됐나?"
    answer = _answer_to(page, question, "기사 기준")
    answer.locator(".negative-feedback-off").first.click()
    dialog = page.locator("[role=dialog]")
    dialog.locator("textarea").fill("미·영 양해각서 날짜입니다 (test)")
    dialog.get_by_role("button", name=re.compile("제출|Submit")).click()
    page.locator(".negative-feedback-on").first.wait_for(timeout=20_000)
    shot = tmp_path / "web-feedback.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")

    index = str(server[1].index_dir)
    cases = tmp_path / "feedback.jsonl"
    done = run_cli("feedback", "export", "--index", index, "--out", str(cases))
    assert done.returncode == 0, done.stderr
    rated = [json.loads(line) for line in cases.read_text(encoding="utf-8").splitlines()]
    case = next(c for c in rated if c["question"] == question)
    assert case["rating"] == "down" and case["comment"] == "미·영 양해각서 날짜입니다 (test)"
    assert case["citations"] and quoted_in(case["citations"][0]["text"], case["answer"])
    run = run_cli(
        "eval",
        "feedback",
        "--index",
        index,
        "--cases",
        str(cases),
        "--report",
        str(tmp_path / "report"),
    )
    # nothing changed since the rating, so the thumbs-down case is still a failing regression
    assert run.returncode == 1 and "still gives the rated-down answer" in run.stdout, run.stdout


# --- another corpus, an LLM that streams slowly, an English browser ---------------------


def _checked_and_unchecked(prompt: str) -> str:
    """Two sentences of passage [1] quoted with their marker, and between them one it does
    not support: the checker keeps the first and last and removes the middle one."""
    passage = re.search(r"^\[1\] .*?<passage>\n(.*?)\n</passage>", prompt, re.S | re.M).group(1)
    quoted = [s.strip() for s in re.findall(r"[^.?!\n]+다\.", passage) if len(s.strip()) > 15]
    made_up = "이 사실은 2099년 화성 기지에서 처음 확인되었다 [1]."
    return f"{quoted[0][:-1]} [1]. {made_up} {quoted[1][:-1]} [1]."


@pytest.fixture(scope="module")
def korquad_server(tmp_path_factory):
    from helpers import gemma_server, make_settings
    from scripted_openai import ScriptedEndpoint

    from rag.eval.korquad import korquad_questions, write_corpus
    from rag.indexing import ingest

    cwd = tmp_path_factory.mktemp("web-korquad")
    files, questions, _ = korquad_questions(articles=2, first=70)  # test-split articles
    write_corpus(files, cwd / "corpus")
    settings = make_settings(cwd / "index")
    ingest([cwd / "corpus"], settings, quiet=True)
    gemma, gemma_url, _ = gemma_server(tmp_path_factory, 4096)
    asked_of_gemma = questions[1]["question"]
    llm = ScriptedEndpoint(
        _checked_and_unchecked, pace=0.15, relay=gemma_url, relay_when=lambda p: asked_of_gemma in p
    )
    env = {
        **{"RAG_BACKEND": "openai", "RAG_LLM_BASE_URL": llm.url, "RAG_LLM_MODEL": "scripted"},
        **{"RAG_LLM_MAX_TOKENS": "80", "RAG_LLM_TIMEOUT": "180"},  # quick on one llama.cpp thread
    }
    with webload.serve(settings.index_dir, cwd=cwd, env=env) as (url, _):
        yield url, files, questions, llm
    llm.close()
    gemma.terminate()
    gemma.wait(timeout=30)


def test_starters_of_another_corpus_are_about_it(korquad_server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, files, _, _ = korquad_server
    titles = {title for _, title, _ in files}
    with sync_playwright() as p:
        browser, page = _open(p, url)
        labels = [b.inner_text().strip() for b in page.locator("button[id^='starter-']").all()]
        page.screenshot(path=str(tmp_path / "web-starters.png"), full_page=True)
        browser.close()
    assert labels and all(label.rstrip("…") in " ".join(titles) for label in labels), labels
    assert not any("SCM" in label or "한미" in label for label in labels)  # not the seeds'


def test_english_browser_gets_an_english_interface(korquad_server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, korquad_server[0], locale="en-US")
        assert page.locator("#chat-input").get_attribute("placeholder") or True
        assert (
            "Type your message" in page.locator("body").inner_text()
            or page.locator("[placeholder*='Type your message']").count()
        )
        page.locator("#chat-settings-open-modal").click()
        dialog = page.locator("[role=dialog]")
        dialog.get_by_text("Passages to cite (top-k)").wait_for(timeout=20_000)
        text = dialog.inner_text()
        page.screenshot(path=str(tmp_path / "web-english.png"), full_page=True)
        browser.close()
    assert "Answer backend" in text and not re.search(r"[가-힣]", text), text


def test_a_sentence_the_checker_removes_never_appears_while_streaming(korquad_server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, _, questions, _ = korquad_server
    question = questions[0]["question"]
    with sync_playwright() as p:
        browser, page = _open(p, url)
        _ask(page, question)
        samples, deadline = [], time.time() + 120
        while time.time() < deadline:
            samples.append(page.locator("body").inner_text())
            if "근거가 확인되지 않은 문장을 뺐습니다" in samples[-1]:
                break
            page.wait_for_timeout(100)
        page.screenshot(path=str(tmp_path / "web-verified-stream.png"), full_page=True)
        browser.close()
    final = samples[-1]
    assert "근거가 확인되지 않은 문장을 뺐습니다" in final, final[-500:]  # said, in Korean
    assert not any("화성 기지" in s for s in samples)  # never shown, not even for a moment
    streaming = [s for s in samples[:-1] if "[1]" in s]
    assert streaming, "no sample caught the answer while it streamed"


def test_a_real_models_removed_sentences_never_appear_while_streaming(korquad_server, tmp_path):
    """Gemma 3 270M on llama.cpp answers one question; its reply is recorded on the way and
    streamed on word by word at a watchable pace. Each of its sentences the checker removes
    (Gemma's base model writes mostly unsupported text) is never in the page, not even while
    the answer streams."""
    from playwright.sync_api import sync_playwright

    from rag.chunking import split_sentences

    url, _, questions, llm = korquad_server
    relayed = len(llm.relayed)
    with sync_playwright() as p:
        browser, page = _open(p, url)
        _ask(page, questions[1]["question"])
        samples, still, deadline = [], 0, time.time() + 240
        while time.time() < deadline and still < 30:  # until the page is still for 3 s
            samples.append(page.locator("body").inner_text())
            done = len(llm.relayed) > relayed and len(samples) > 1
            still = still + 1 if done and samples[-1] == samples[-2] else 0
            page.wait_for_timeout(100)
        page.screenshot(path=str(tmp_path / "web-gemma-stream.png"), full_page=True)
        browser.close()
    assert len(llm.relayed) > relayed, "Gemma was never asked"
    final = samples[-1]
    said = [re.sub(r"\s*\[\d+\]", "", s.text).strip(" .") for s in split_sentences(llm.relayed[-1])]
    removed = [s for s in said if len(s) >= 8 and s not in final]
    assert removed, ("the checker removed none of Gemma's sentences", llm.relayed[-1])
    shown = [(s, n) for n, sample in enumerate(samples) for s in removed if s in sample]
    assert not shown, shown
    print(f"\nGemma: {len(said)} sentences, {len(removed)} removed, {len(samples)} page samples")
