"""Reading web pages: trafilatura's body, title and date with the Korean furniture rules on top;
`rag extract` as a subprocess; the extraction benchmark's metric and command."""

import gzip
import json

import pytest
from helpers import ROOT, korean_pdf, run_cli

from rag.articles import extract, read_extraction
from rag.bench import extraction
from rag.errors import BadInput

PAGES = ROOT / "rag" / "data" / "article-extraction"
TRUTH = json.loads((PAGES / "ground-truth.json").read_text(encoding="utf-8"))

KOREAN_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>한미, 조선 협력 확대 합의 | 가상일보</title>
<meta property="og:title" content="한미, 조선 협력 확대 합의">
<meta property="og:site_name" content="가상일보">
<meta property="article:published_time" content="2025-11-14T09:30:00+09:00">
<meta name="author" content="김철수 기자">
</head><body>
<nav><a href="/">홈</a> <a href="/politics">정치</a> <a href="/economy">경제</a></nav>
<article><h1>한미, 조선 협력 확대 합의</h1>
<p>한국과 미국은 14일 워싱턴에서 장관급 회의를 열고 조선 분야 협력을 확대하기로 합의했다.
양국은 함정 정비와 공동 건조를 논의하는 실무 협의체를 내년 상반기에 출범시키기로 했다.</p>
<p>산업통상자원부 장관은 회의 뒤 기자들과 만나 "양국 조선소 사이의 인력 교류도 늘릴 것"이라고
말했다. 미국 측은 한국 조선사의 미국 내 투자 계획을 환영한다는 입장을 밝혔다.</p>
<p>이번 회의는 지난 8월 정상회담 이후 처음 열린 장관급 경제 협의로, 양측은 공급망과 에너지 분야의
후속 과제도 점검했다. 다음 회의는 서울에서 열린다.</p>
<p>무단 전재 및 재배포 금지</p>
</article>
<aside><h3>많이 본 뉴스</h3><ul><li>오늘의 날씨</li><li>주식 시황</li></ul></aside>
<footer>Copyright 가상일보. All rights reserved.</footer>
</body></html>"""


def test_a_korean_news_page_gives_body_title_date_outlet_and_author(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(KOREAN_PAGE, encoding="utf-8")
    e = read_extraction(page)
    assert (e.title, e.published, e.outlet, e.author) == (
        "한미, 조선 협력 확대 합의",
        "2025-11-14",
        "가상일보",
        "김철수 기자",
    )
    assert "조선 분야 협력을 확대하기로 합의했다" in e.text and "다음 회의는 서울에서" in e.text
    for furniture in ("정치", "많이 본 뉴스", "주식 시황", "무단 전재", "All rights reserved"):
        assert furniture not in e.text, furniture


def test_a_page_with_no_article_is_refused_with_a_reason(tmp_path):
    with pytest.raises(BadInput, match="no article text"):
        extract(b"<html><body><script>var x = 1;</script></body></html>", tmp_path / "a.html")


PDF_PARAGRAPHS = [
    "한국과 미국은 14일 워싱턴에서 장관급 회의를 열고 조선 분야 협력을 확대하기로 합의했다. "
    "양국은 함정 정비와 공동 건조를 논의하는 실무 협의체를 내년 상반기에 출범시키기로 했다.",
    '산업통상자원부 장관은 회의 뒤 기자들과 만나 "양국 조선소 사이의 인력 교류도 늘릴 것"이라고 '
    "말했다. 미국 측은 한국 조선사의 미국 내 투자 계획을 환영한다는 입장을 밝혔다.",
    "다음 회의는 서울에서 열린다.",
]


def test_a_pdf_article_gives_its_paragraphs_title_and_date(tmp_path):
    """Lines wrapped on the page are joined back into the paragraphs that were written, the page
    number is dropped, and the title and date come from the PDF's own information."""
    pdf = korean_pdf(
        tmp_path / "보도자료.pdf", "한미, 조선 협력 확대 합의", PDF_PARAGRAPHS, "김철수"
    )
    e = read_extraction(pdf)
    assert e.text.split("\n") == ["한미, 조선 협력 확대 합의", *PDF_PARAGRAPHS]
    assert (e.title, e.author) == ("한미, 조선 협력 확대 합의", "김철수")
    assert len(e.published) == 10 and e.published[:2] == "20"  # the PDF's creation date


@pytest.mark.parametrize(
    "make, refusal",
    [
        (lambda p: korean_pdf(p, "기사", PDF_PARAGRAPHS, password="비밀"), "needs a password"),
        (lambda p: korean_pdf(p, " ", []), "no text to read"),  # as a scan without OCR
        (lambda p: p.write_bytes(b"%PDF-1.7\n" + b"\x00" * 4000), "not a readable PDF"),
    ],
)
def test_a_pdf_that_cannot_be_read_is_refused_with_what_to_do(tmp_path, make, refusal):
    path = tmp_path / "a.pdf"
    make(path)
    with pytest.raises(BadInput, match=refusal) as refused:
        read_extraction(path)
    assert refused.value.hint


def test_a_benchmark_page_is_read_close_to_its_true_body():
    page_id = sorted(TRUTH)[0]  # a development page
    with gzip.open(PAGES / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as f:
        html = f.read()
    e = extract(html.encode("utf-8"), PAGES / "page.html")
    tp, fp, fn = extraction.page_counts(TRUTH[page_id]["articleBody"], e.text)
    assert tp > 0.8 and e.title


def test_a_page_whose_precise_reading_keeps_only_a_notice_gets_its_body():
    """Barron's page: trafilatura's precise reading keeps the reprint notice alone (about 200
    characters); the plain reading has the article."""
    page_id = next(k for k in TRUTH if "barrons.com/articles/home-depot" in TRUTH[k]["url"])
    with gzip.open(PAGES / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as f:
        html = f.read()
    e = extract(html.encode("utf-8"), PAGES / "page.html")
    assert "Home Depot (ticker: HD) reported" in e.text
    tp, fp, fn = extraction.page_counts(TRUTH[page_id]["articleBody"], e.text)
    assert tp > 0.7


def test_a_site_name_taken_for_the_title_gives_way_to_the_headline():
    """Entermedia's pages put the site's name in an ``<h1>`` inside the link home, and
    trafilatura took it for the title; the headline is in the page's ``<title>``, before the
    site part ("Headline - Entermedia"), and the site's name becomes the outlet."""
    pages = [k for k in TRUTH if "entermedia.co.kr" in TRUTH[k]["url"]]
    titles = []
    for page_id in sorted(pages):
        with gzip.open(PAGES / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as f:
            e = extract(f.read().encode("utf-8"), PAGES / "page.html")
        titles.append(e.title)
        assert e.outlet == "엔터 미디어"
    assert sorted(titles) == [
        "악녀의 덫에 걸린 이유리, 의외로 막장극 어울리는 남상미",
        "엘제이-류화영 진흙탕 싸움, 공적인 사안으로 봐야하는 이유",
    ]


def test_the_benchmark_metric_counts_shingles_per_page():
    true = "one two three four five six"
    assert extraction.page_counts(true, true) == (1.0, 0.0, 0.0)
    assert extraction.page_counts(true, "") == (0.0, 0.0, 1.0)
    tp, fp, fn = extraction.page_counts(true, "one two three four five six seven eight")
    assert (tp, fp, fn) == (3 / 5, 2 / 5, 0.0)  # 3 shingles shared, 2 extra
    s = extraction.scores([(1.0, 0.0, 0.0), (0.5, 0.5, 0.0)])
    assert s["precision"] == 0.75 and s["recall"] == 1.0 and s["f1"] == round(1.5 / 1.75, 4)


def test_rag_extract_prints_what_ingest_would_index(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(KOREAN_PAGE, encoding="utf-8")
    seed = ROOT / "rag" / "data" / "seeds" / "003_6ef1ca8856d1c790.txt"
    out = run_cli("extract", "--json", str(page), str(seed), str(tmp_path / "missing.html"))
    assert out.returncode == 2 and "missing.html" in out.stderr  # the others still printed
    first, second = (json.loads(line) for line in out.stdout.splitlines())
    assert first["source"] == "page.html" and first["published"] == "2025-11-14"
    assert second["title"].startswith("한미, 경제안보 이슈") and second["outlet"] == "연합뉴스"
    plain = run_cli("extract", str(page))
    assert plain.returncode == 0 and "author:    김철수 기자" in plain.stdout


def test_rag_bench_extraction_compares_with_trafilatura_on_dev_and_test(tmp_path):
    out = run_cli("bench", "extraction", "--articles", "8", "--out", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert set(result) == {"dev", "test"}
    for split in result.values():
        assert split["pages"] == 8
        assert split["ours"]["f1"] > 0.8 and split["trafilatura"]["f1"] > 0.8
    assert "trafilatura" in out.stdout and "dev" in out.stdout


def test_rag_bench_dates_scores_the_table_on_dev_and_test():
    out = run_cli("bench", "dates")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:3]}
    assert int(rows["dev"][1]) + int(rows["test"][1]) >= 100

    def share(split: str, column: int) -> float:
        right, total = rows[split][column].split("/")
        return int(right) / int(total)

    # Korean (column 4): 2026-12-03 .967 dev / .654 test; English (5): 2026-12-04 .814 / .895
    assert share("dev", 4) >= 0.9 and share("test", 4) >= 0.6
    assert share("dev", 5) >= 0.75 and share("test", 5) >= 0.75
