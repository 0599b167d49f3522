"""Running a suite: ingest its corpus into a private index, ask every question, score, report."""

from __future__ import annotations

import re
import time
from dataclasses import replace

from ..answering import ask
from ..errors import RagError
from ..indexing import ingest
from ..scratch import scratch_dir
from ..settings import Settings
from .metrics import QuestionResult, aggregate, misses, score_question, share
from .suites import Suite


def judge(row: dict, answer_text: str, settings: Settings) -> bool | None:
    """Optional LLM-graded correctness (prompts/judge.txt); None when the judge is unreachable."""
    from langchain_core.messages import HumanMessage

    from ..answering.llm import chat_model
    from ..answering.prompts import render

    prompt = render(
        "judge.txt",
        question=row["question"],
        expected=" | ".join(row.get("expected", [])),
        answer=answer_text,
    )
    try:
        reply = chat_model(settings).invoke([HumanMessage(prompt)]).content
    except Exception:
        return None
    return str(reply).strip().startswith("1")


def run_suite(suite: Suite, settings: Settings, log=print, judge_llm: bool = False) -> dict:
    """Ingest the suite's corpus into a private index, ask every question, score.

    With ``judge_llm`` (and an LLM backend configured) an LLM also grades each answerable
    answer; it adds ``llm_judge_correct`` and nothing depends on it."""
    index_dir = scratch_dir(f"rag-eval-{suite.name}-") / "index"
    collection = (
        f"{settings.store_collection}_eval_{re.sub(r'[^a-z0-9_]', '_', suite.name.lower())}"[:63]
    )
    settings = replace(settings, index_dir=index_dir, store_collection=collection)
    # Anew every run: a server store keeps the suite's collection from the last one (the FAISS
    # folder is new, so there is nothing to replace and the rebuild costs nothing).
    ingest([suite.corpus], settings, rebuild=True, quiet=True)
    results = []
    started = time.time()
    for row in suite.questions:
        try:
            answer = ask(row["question"], settings)
        except RagError as e:
            results.append(
                QuestionResult(
                    row.get("id", ""),
                    row["question"],
                    row["answerable"],
                    "",
                    True,
                    False,
                    None,
                    0,
                    0,
                    0,
                    0,
                    0,
                    {},
                    [f"error: {e.message}"],
                )
            )
            continue
        results.append(score_question(row, answer))
        if judge_llm and row["answerable"] and settings.backend != "extractive":
            results[-1].judged_correct = judge(row, answer.answer, settings)
    metrics = aggregate(results, settings.top_k)
    graded = [r.judged_correct for r in results if r.judged_correct is not None]
    if graded:
        metrics["llm_judge_correct"] = share(sum(graded), len(graded))
    failed = misses(metrics, suite.thresholds)
    log(f"{suite.name}: {len(results)} questions in {time.time() - started:.1f} s")
    return {
        "suite": suite.name,
        "description": suite.description,
        "metrics": metrics,
        "thresholds": suite.thresholds,
        "missed": failed,
        "passed": not failed,
        "questions": [r.__dict__ for r in results],
    }
