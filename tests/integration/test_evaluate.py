"""The evaluation harness: metrics on hand-checked cases, the meta-evaluation, reports, exit
codes."""

import json
import xml.etree.ElementTree as ET

import pytest
from helpers import CHROMIUM, CHROMIUM_FLAGS, SEEDS, need_chromium, run_cli

from rag.eval.meta import meta_evaluate
from rag.eval.metrics import QuestionResult, aggregate, fact_present, misses
from rag.eval.reports import write_reports
from rag.eval.suites import load_suite


def _r(
    answerable=True,
    abstained=False,
    correct=True,
    rank=1,
    sentences=1,
    supported=1,
    any_=1,
    cites=1,
    needed=1,
):
    return QuestionResult(
        "q",
        "?",
        answerable,
        "a",
        abstained,
        correct if answerable else None,
        rank,
        sentences,
        supported,
        any_,
        cites,
        needed,
        {"retrieve_ms": 10.0, "answer_ms": 20.0},
    )


def test_metrics_on_hand_checked_cases():
    results = [
        _r(rank=1),  # right passage first, correct
        _r(rank=3, correct=False, sentences=2, supported=1, any_=2, cites=2, needed=1),
        _r(
            rank=None,
            abstained=True,
            correct=False,
            sentences=0,
            supported=0,
            any_=0,
            cites=0,
            needed=0,
        ),
        _r(
            answerable=False,
            abstained=True,
            rank=None,
            sentences=0,
            supported=0,
            any_=0,
            cites=0,
            needed=0,
        ),
        _r(
            answerable=False,
            abstained=False,
            rank=None,
            sentences=1,
            supported=0,
            any_=0,
            cites=1,
            needed=0,
        ),
    ]
    m = aggregate(results, k=5)
    assert m["hit_at_1"] == pytest.approx(1 / 3, abs=1e-3) and m["hit_at_5"] == pytest.approx(
        2 / 3, abs=1e-3
    )
    assert m["mrr"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-3)
    assert m["ndcg_at_5"] == pytest.approx((1 + 0.5) / 3, abs=1e-3)  # 1/log2(3+1) = 0.5
    assert m["answer_correct"] == pytest.approx(1 / 3, abs=1e-3)
    assert m["citation_recall"] == pytest.approx(2 / 4) and m["faithfulness"] == pytest.approx(
        3 / 4
    )
    assert m["citation_precision"] == pytest.approx(2 / 4)
    assert m["abstention_recall"] == 0.5 and m["abstention_precision"] == 0.5
    assert m["wrongful_abstention"] == pytest.approx(1 / 3, abs=1e-3)
    assert m["retrieve_p50_ms"] == 10.0
    assert misses(m, {"hit_at_5": 0.9, "wrongful_abstention": 0.5, "mrr": 0.1}) == [
        "hit_at_5 = 0.667 (below the minimum 0.9)"
    ]
    assert misses(m, {"wrongful_abstention": 0.2})[0].startswith(
        "wrongful_abstention = 0.333 (above the maximum"
    )


def test_a_short_answer_counts_when_it_is_an_expected_answer_exactly():
    from rag.answering import Answer
    from rag.eval.metrics import score_question

    row = {"question": "몇 곳?", "answerable": True, "expected": ["16곳", "16개"]}

    def shown(short):
        body = f"**{short}** — 기업 16곳이 참가했다." if short else "기업 16곳이 참가했다."
        return score_question(row, Answer("몇 곳?", body, False, [], [], "ko", short_answer=short))

    results = [shown("16곳"), shown("기업 16곳"), shown("")]
    assert [r.short_exact for r in results] == [True, False, None]  # inside a longer span: no
    m = aggregate(results, k=5)
    assert m["short_shown"] == pytest.approx(2 / 3, abs=1e-3)
    assert m["short_exact"] == 0.5


@pytest.mark.parametrize(
    "expected, text, ok",
    [
        (["8곳"], "한국에서는 8 곳이 참가했다", True),
        (["1,000명"], "1000명이 모였다", True),
        (["러만도 장관은"], "러만도 장관과 회담했다", True),
        (["3.5%"], "국방비를 3%로", False),
    ],
)
def test_fact_matching_normalises_spacing_numbers_and_particles(expected, text, ok):
    assert fact_present(expected, text) is ok


def test_meta_evaluation_catches_corrupted_answers():
    m = meta_evaluate(load_suite("seeds_dev"))
    print(f"\nmeta-evaluation: {m}")
    assert m["corruptions"] >= 200 and m["clean_answers"] >= 50
    assert m["caught"] >= 0.95 and m["clean_flagged"] <= 0.05


def test_reports_are_written_and_valid(tmp_path):
    results = [_r(), _r(answerable=False, abstained=False, rank=None)]
    results[1].problems.append("answered a question the articles do not answer")
    m = aggregate(results, 5)
    report = {
        "suite": "tiny",
        "description": "<b>two</b> questions",
        "metrics": m,
        "thresholds": {"hit_at_5": 0.5},
        "missed": misses(m, {"abstention_recall": 1.0}),
        "passed": False,
        "questions": [r.__dict__ for r in results],
    }
    paths = write_reports([report], tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())[0]["suite"] == "tiny"
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    assert junit.find("testsuite").get("failures") == "1"
    assert len(junit.findall(".//failure")) == 2  # the failing question and the missed threshold
    assert "FAILED" in (tmp_path / "summary.md").read_text()
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto((tmp_path / "report.html").as_uri())
        assert page.locator("h1").inner_text() == "Evaluation report"
        assert (
            page.locator("svg rect").count() >= 5 and page.locator("b").count() == 0
        )  # bars drawn; text escaped
        browser.close()
    assert len(paths) == 4


def test_missed_threshold_fails_the_run(tmp_path):
    (tmp_path / "q.jsonl").write_text(
        json.dumps(
            {
                "id": "x1",
                "question": "제58차 SCM은 언제 열리나?",
                "answerable": True,
                "expected": ["2026년"],
                "sources": ["002_c2bd60a9f3b022b5.txt"],
                "passage": "다가오는 2026년 제58차 SCM은",
            },
            ensure_ascii=False,
        )
        + "\n"
    )
    seeds = str(SEEDS)
    (tmp_path / "impossible.toml").write_text(
        f'name = "impossible"\nquestions = "q.jsonl"\ncorpus = "{seeds}"\n'
        "[thresholds]\nhit_at_5 = 1.01\n",
        encoding="utf-8",
    )
    scratch = tmp_path / "scratch"  # where the run's own index goes (TMPDIR)
    scratch.mkdir()
    r = run_cli(
        "eval",
        str(tmp_path / "impossible.toml"),
        "--report",
        str(tmp_path / "out"),
        env={"TMPDIR": str(scratch)},
    )
    assert r.returncode == 1, r.stderr
    assert "FAILED impossible: hit_at_5" in r.stdout
    assert (tmp_path / "out" / "junit.xml").is_file()
    left = [p.name for p in scratch.iterdir() if p.name.startswith("rag-")]  # not tiktoken's cache
    assert left == []  # the suite's own index went with the process
