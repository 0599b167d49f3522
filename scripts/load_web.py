"""Load check for the web chat: N concurrent browser chats against a running `rag web`.

    python scripts/load_web.py [URL] [--chats 10]

Each chat is a real page in headless chromium that asks one seed question; the script
reports how many were answered and the p50/p95 time from sending to the complete answer.
A benchmark that prints figures, not a test with a time limit.
"""

import argparse
import asyncio
import statistics
import time

from playwright.async_api import async_playwright

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
QUESTIONS = [
    "한미는 한국 국방비를 GDP 대비 몇 퍼센트로 확대하는 데 공감했나?",
    "미래연합군사령부 완전운용능력 검증은 언제까지 추진하나?",
    "한·미 기술 번영 양해각서는 언제 체결됐나?",
    "한미 공급망·산업 대화 양해각서에 서명한 한국 장관은 누구인가?",
    "비즈니스 라운드테이블에는 몇 개 기업이 참가했나?",
    "한미일 3국의 연합훈련 이름은 무엇인가?",
    "What share of GDP will Korea's defense budget rise to?",
    "서울 아파트 평균 가격은 얼마인가?",
    "신설이 논의된 국방과학기술협력위원회의 약칭은?",
    "양국이 구축하기로 한 사이버 분야 동맹의 이름은?",
]
DONE = ["기사 기준", "based on articles", "찾을 수 없습니다", "do not answer"]


async def chat(browser, url, question):
    page = await browser.new_page()
    await page.goto(url)
    await page.wait_for_selector("#chat-input", timeout=120_000)
    box = page.locator("#chat-input")
    await box.fill(question)
    for _ in range(60):  # Enter is ignored until the session is connected
        await box.press("Enter")
        if await page.locator(".step").filter(has_text=question[:12]).count():
            break
        await asyncio.sleep(1)
    sent = time.perf_counter()
    while time.perf_counter() - sent < 300:
        texts = await page.locator(".step").all_inner_texts()
        if len(texts) >= 2 and any(d in texts[-1] for d in DONE):
            await page.close()
            return time.perf_counter() - sent
        await asyncio.sleep(0.1)
    await page.close()
    return None


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url", nargs="?", default="http://127.0.0.1:8000")
    ap.add_argument("--chats", type=int, default=10)
    args = ap.parse_args()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        await chat(browser, args.url, QUESTIONS[0])  # warm the server once
        started = time.perf_counter()
        times = await asyncio.gather(*(chat(browser, args.url, QUESTIONS[i % len(QUESTIONS)]) for i in range(args.chats)))
        wall = time.perf_counter() - started
        await browser.close()
    ok = sorted(t for t in times if t is not None)
    print(f"{len(ok)}/{args.chats} concurrent chats answered in {wall:.1f} s")
    if ok:
        print(f"send → complete answer: p50 {statistics.median(ok):.2f} s, p95 {ok[int(0.95 * (len(ok) - 1))]:.2f} s, max {ok[-1]:.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
