"""Per-question measurements and suite metrics, all through the same citation checker the
answer path uses (see the package docstring for what each metric means)."""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field

from ..answering import cite

LOWER_IS_BETTER = {"wrongful_abstention"}
PARTICLES = re.compile(r"(은|는|이|가|을|를|의|에|에서|으로|로|와|과|도|만)$")


def latency(ms: list[float]) -> dict:
    """p50 and p95 of millisecond timings."""
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1)} if ms else {}


@dataclass
class QuestionResult:
    id: str
    question: str
    answerable: bool
    answer: str
    abstained: bool
    correct: bool | None
    retrieved_rank: int | None
    sentences: int
    supported_cited: int
    supported_any: int
    citations: int
    citations_needed: int
    timings: dict
    problems: list[str] = field(default_factory=list)
    judged_correct: bool | None = None  # the optional LLM judge's grade


def normalise(text: str) -> str:
    """For fact matching: no spaces, no thousands separators, lower case."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower())
    return re.sub(r"\s+", "", text)


def fact_present(expected: list[str], text: str) -> bool:
    """Does any expected alternative occur in the text (particles on the fact allowed to differ)?"""
    flat = normalise(text)
    return any(normalise(e) in flat or normalise(PARTICLES.sub("", e.strip())) in flat for e in expected if e.strip())


def _supports_alone(sentence: str, n: int, passages: list[str]) -> bool:
    """Citation precision: does passage n on its own support the sentence?"""
    claim = cite.MARKER.sub("", sentence)
    return cite.check_sentence(f"{claim} [1]", [passages[n - 1]]).supported


def score_question(row: dict, answer) -> QuestionResult:
    """All per-question measurements for one answered question."""
    texts = [p.text for p in answer.passages]
    span = row.get("passage", "").split("\n")[0][:30]

    def supporting(p) -> bool:
        return (span and span in p.text) or (not span and p.source in row.get("sources", []))

    rank = next((i + 1 for i, p in enumerate(sorted(answer.passages, key=lambda p: p.rank)) if supporting(p)), None)
    body = answer.answer.removesuffix(answer.date_note).rstrip()
    checks = [] if answer.abstained else cite.check(body, texts)
    every_passage = "".join(f"[{i}]" for i in range(1, len(texts) + 1))
    any_support = sum(cite.check_sentence(f"{cite.strip_markers(c.text)} {every_passage}", texts).supported for c in checks)
    needed = sum(_supports_alone(c.text, n, texts) for c in checks for n in c.cited if 1 <= n <= len(texts))
    n_citations = sum(len(c.cited) for c in checks)
    evidence = answer.answer + " " + " ".join(c.text for c in answer.citations)
    sources = row.get("sources", [])
    cites_source = not sources or any(c.source in sources for c in answer.citations)
    correct = (fact_present(row.get("expected", []), evidence) and cites_source and not answer.abstained
               if row["answerable"] else None)
    problems = []
    if row["answerable"] and answer.abstained:
        problems.append("abstained on an answerable question")
    elif row["answerable"] and not correct:
        problems.append(f"expected one of {row.get('expected')}")
    if not row["answerable"] and not answer.abstained:
        problems.append("answered a question the articles do not answer")
    problems += [f"unsupported sentence ({c.reason}): {c.text[:80]}" for c in checks if not c.supported]
    return QuestionResult(row.get("id", ""), row["question"], row["answerable"], answer.answer, answer.abstained, correct,
                          rank, len(checks), sum(c.supported for c in checks), any_support, n_citations, needed,
                          {k: v for k, v in answer.timings.items() if k.endswith("_ms")}, problems)


def share(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def aggregate(results: list[QuestionResult], k: int) -> dict:
    """Suite-level metrics from per-question results."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    ranks = [r.retrieved_rank for r in answerable]
    metrics = {
        "questions": len(results),
        "hit_at_1": share(sum(1 for x in ranks if x and x <= 1), len(ranks)),
        "hit_at_5": share(sum(1 for x in ranks if x and x <= 5), len(ranks)),
        f"hit_at_{k}": share(sum(1 for x in ranks if x and x <= k), len(ranks)),
        "mrr": share(sum(1 / x for x in ranks if x), len(ranks)),
        f"ndcg_at_{k}": share(sum(1 / math.log2(x + 1) for x in ranks if x and x <= k), len(ranks)),
        "answer_correct": share(sum(bool(r.correct) for r in answerable), len(answerable)),
        "citation_recall": share(sum(r.supported_cited for r in results), sum(r.sentences for r in results)),
        "citation_precision": share(sum(r.citations_needed for r in results), sum(r.citations for r in results)),
        "faithfulness": share(sum(r.supported_any for r in results), sum(r.sentences for r in results)),
        "abstention_precision": share(sum(r.abstained for r in unanswerable), sum(r.abstained for r in results)),
        "abstention_recall": share(sum(r.abstained for r in unanswerable), len(unanswerable)),
        "wrongful_abstention": share(sum(r.abstained for r in answerable), len(answerable)),
    }
    for stage in sorted({s for r in results for s in r.timings}):
        for name, value in latency([r.timings[stage] for r in results if stage in r.timings]).items():
            metrics[f"{stage[:-3]}_{name}"] = value
    return metrics


def misses(metrics: dict, thresholds: dict) -> list[str]:
    """Thresholds not met, as readable lines."""
    out = []
    for name, limit in thresholds.items():
        value = metrics.get(name)
        if value is None:
            continue
        bad = value > limit if name in LOWER_IS_BETTER else value < limit
        if bad:
            out.append(f"{name} = {value:.3f} ({'above the maximum' if name in LOWER_IS_BETTER else 'below the minimum'} {limit})")
    return out


