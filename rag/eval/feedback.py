"""Rated web-chat answers run again as regression cases (`rag feedback export` writes them).

    rag eval feedback [--cases feedback.jsonl]

A thumbs-up case passes while the answer still stands on what was approved: it abstains
where the rated answer abstained, or cites a passage the rated answer cited. A thumbs-down
case passes once the rated answer is gone: the new answer abstains where the rated one
answered, or cites none of the passages the rated one cited, or answers where it abstained.
So a thumbs-down fails until a fix changes that answer, and a thumbs-up fails when a change
breaks it. Exit status 1 when any case fails.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import BadInput, RagError


def load_cases(path: Path) -> list[dict]:
    """The cases of a `rag feedback export` file, each checked for the fields a run needs."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise BadInput(
            f"cannot read {path}: {e.strerror}", "rag feedback export --out FILE"
        ) from None
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
            assert case["rating"] in ("up", "down") and case["question"]
            case.setdefault("citations", [])
            case.setdefault("abstained", False)
        except (json.JSONDecodeError, KeyError, AssertionError, TypeError):
            raise BadInput(
                f"{path}:{number} is not a feedback case", "write it with rag feedback export"
            ) from None
        cases.append(case)
    return cases


def verdict(case: dict, answer) -> tuple[bool, str]:
    """Whether ``answer`` (asked again) passes ``case``, and why."""
    before = {c["chunk_id"] for c in case["citations"]}
    now = {c.chunk_id for c in answer.citations}
    if case["rating"] == "up":
        if case["abstained"]:
            return answer.abstained, "still abstains" if answer.abstained else "now answers"
        kept = bool(before & now) and not answer.abstained
        return kept, "still cites the approved passage" if kept else "lost the approved answer"
    if case["abstained"] != answer.abstained:
        return True, "abstains now" if answer.abstained else "answers now"
    if answer.abstained:
        return False, "still abstains, as rated down"
    changed = not (before & now)
    return changed, "cites other passages now" if changed else "still gives the rated-down answer"


def run_feedback(cases: list[dict], settings, log=lambda message: None) -> dict:
    """Ask every case's question again; each case's verdict and the totals."""
    from ..answering import ask

    results = []
    for case in cases:
        try:
            answer = ask(case["question"], settings)
            passed, why = verdict(case, answer)
            now = answer.answer
        except RagError as e:
            passed, why, now = False, f"error: {e.message}", ""
        results.append(
            {
                "question": case["question"],
                "rating": case["rating"],
                "comment": case.get("comment", ""),
                "passed": passed,
                "why": why,
                "answer_before": case.get("answer", ""),
                "answer_now": now,
            }
        )
        log(f"  {'pass' if passed else 'FAIL'} ({case['rating']}) {case['question'][:60]}: {why}")
    return {
        "cases": len(results),
        "passed": sum(r["passed"] for r in results),
        "failed": [r for r in results if not r["passed"]],
        "results": results,
    }
