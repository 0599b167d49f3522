"""Syndicated copies: one story in several outlets' files is shown once, at its best-ranked copy,
which names the other outlets. The copies are planted from a real seed article: the same text
as another outlet's web page (other furniture), with a changed headline, and with its last
paragraph trimmed."""

import json
from types import SimpleNamespace

import pytest
from helpers import SEEDS, korquad, make_settings

from rag import copies
from rag.answering import ask
from rag.indexing import ingest
from rag.retrieve import search

STORY = "003_6ef1ca8856d1c790.txt"  # the 2022 supply-chain and industry dialogue
QUESTION = "한미 공급망·산업 대화 비즈니스 라운드테이블에는 몇 개 기업이 참가했나?"


@pytest.fixture(scope="module")
def syndicated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("syndicated")
    text = (SEEDS / STORY).read_text(encoding="utf-8")
    for seed in SEEDS.glob("*.txt"):
        (folder / seed.name).write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    meta = json.loads((SEEDS / "metadata.json").read_text(encoding="utf-8"))
    paragraphs = [p for p in text.split("\n") if len(p) > 40]
    page = "".join(f"<p>{p}</p>" for p in paragraphs)
    (folder / "newsis.html").write_text(
        "<!doctype html><html><head><title>한미 공급망 대화 격상</title>"
        '<meta property="og:site_name" content="뉴시스"></head><body>'
        "<nav><a href='/'>홈</a> <a href='/p'>정치</a></nav>"
        f"<article><h1>한미 공급망 대화 격상</h1>{page}<p>무단 전재 및 재배포 금지</p></article>"
        "<aside>많이 본 뉴스</aside></body></html>",
        encoding="utf-8",
    )
    (folder / "news1.txt").write_text(
        "[속보] 한미 장관급 산업대화 출범\n" + "\n".join(paragraphs), encoding="utf-8"
    )
    (folder / "trimmed.txt").write_text("\n".join(paragraphs[:-1]), encoding="utf-8")
    meta["news1.txt"] = {"outlet": "뉴스1", "published": "2022-05-21"}
    meta["trimmed.txt"] = {"outlet": "가상일보", "published": "2022-05-22"}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    settings = make_settings(tmp_path_factory.mktemp("index") / "vectorstore")
    report = ingest([folder], settings, quiet=True)
    assert len(report.added) == 7
    INGESTED["report"] = report
    return settings


INGESTED: dict = {}  # the fixture's ingest report


def test_the_ingest_names_the_copies_it_adds(syndicated):
    report = INGESTED["report"]
    named = {source for pair in report.copies for source in pair}
    assert named == {STORY, "newsis.html", "news1.txt", "trimmed.txt"}, report.copies
    assert "copies of one story" in report.summary() and "news1.txt" in report.summary()


def test_search_shows_one_copy_of_a_story_and_names_the_others(syndicated):
    hits = search(QUESTION, syndicated, k=5)
    sources = [h.source for h in hits]
    copies_shown = {s for s in sources if s in (STORY, "newsis.html", "news1.txt", "trimmed.txt")}
    assert len(copies_shown) == 1, sources  # one copy, maybe several of its passages
    top = next(h for h in hits if h.source in copies_shown)
    others = {"연합뉴스", "뉴시스", "뉴스1", "가상일보"} - {top.outlet}
    assert set(top.also_in) == others, top.also_in


def test_the_answer_cites_one_copy_and_says_where_else(syndicated):
    answer = ask(QUESTION, syndicated)
    assert not answer.abstained and "16" in answer.answer
    story_citations = [c for c in answer.citations if c.also_in]
    assert story_citations and len(story_citations[0].also_in) == 3


def test_distinct_articles_are_not_taken_for_copies():
    """KorQuAD dev articles 0-69 (development data): no two are one story."""
    articles = [
        SimpleNamespace(
            key=str(n),
            content_hash=str(n),
            text="\n".join(p["context"] for p in a["paragraphs"]),
        )
        for n, a in enumerate(korquad()["data"][:70])
    ]
    worst = max(copies.similarity(a, b) for i, a in enumerate(articles) for b in articles[i + 1 :])
    assert worst < copies.SAME_STORY / 4
