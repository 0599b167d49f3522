"""The real Chainlit server as a subprocess, driven by Debian's headless chromium (Playwright)."""

import shutil

import pytest
from helpers import CHROMIUM, need_chromium
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
        yield url


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server)
        page.wait_for_selector("#chat-input", timeout=60_000)
        page.get_by_text("SCM 국방비").wait_for(timeout=60_000)  # starters shown: the socket is up
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
    assert "3.5%" in answer.inner_text()
    link = answer.locator(".element-link").first
    assert link.inner_text().strip() == "[1]"
    link.click()
    panel = page.get_by_text("제57차 한미안보협의회의(SCM) 결과").last
    panel.wait_for(timeout=20_000)
    assert page.get_by_text("2025-11-15").count() >= 1
    assert (
        page.locator(".side-text .font-bold", has_text="3.5%로 확대").count() >= 1
    )  # cited sentence highlighted
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
