"""Per-question measurements and suite metrics, all through the same citation checker the
answer path uses (see the package docstring for what each metric means)."""

from __future__ import annotations

import math
import re
import statistics
import string
from collections import Counter
from dataclasses import dataclass, field

from ..answering import cite

LOWER_IS_BETTER = {"wrongful_abstention"}
PARTICLES = re.compile(r"(은|는|이|가|을|를|의|에|에서|으로|로|와|과|도|만)$")


def latency(ms: list[float]) -> dict:
    """p50 and p95 of millisecond timings."""
    ms = sorted(ms)
    return (
        {
            "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
        }
        if ms
        else {}
    )


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
    short_exact: bool | None = None  # the short answer, when one is shown: an expected answer?


def normalise(text: str) -> str:
    """For fact matching: no spaces, no thousands separators, no bold marks (a short answer is
    bolded inside its sentence: "**파우스트** 서곡" still says "파우스트 서곡"), lower case."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower().replace("**", ""))
    return re.sub(r"\s+", "", text)


def fact_present(expected: list[str], text: str) -> bool:
    """Does any expected alternative occur in the text (particles on the fact allowed to differ)?"""
    flat = normalise(text)
    return any(
        normalise(e) in flat or normalise(PARTICLES.sub("", e.strip())) in flat
        for e in expected
        if e.strip()
    )


def _supports_alone(sentence: str, n: int, passages: list[str]) -> bool:
    """Citation precision: does passage n on its own support the sentence?"""
    claim = cite.MARKER.sub("", sentence)
    return cite.check_sentence(f"{claim} [1]", [passages[n - 1]]).supported


def _supporting_rank(row: dict, passages) -> int | None:
    """Rank of the first passage holding the question's evidence span (or, with none given,
    from one of its source articles)."""
    span = row.get("passage", "").split("\n")[0][:30]
    sources = row.get("sources", [])
    ranked = sorted(passages, key=lambda p: p.rank)
    return next(
        (i for i, p in enumerate(ranked, 1) if (span in p.text if span else p.source in sources)),
        None,
    )


def _citation_counts(checks, texts: list[str]) -> tuple[int, int, int]:
    """(claims supported by the retrieved passages at all, citations that support their claim on
    their own, citations)."""
    every_passage = "".join(f"[{i}]" for i in range(1, len(texts) + 1))
    any_support = sum(
        cite.check_sentence(f"{cite.strip_markers(c.text)} {every_passage}", texts).supported
        for c in checks
    )
    needed = sum(
        _supports_alone(c.text, n, texts) for c in checks for n in c.cited if 1 <= n <= len(texts)
    )
    return any_support, needed, sum(len(c.cited) for c in checks)


def is_correct(row: dict, answer) -> bool | None:
    """An expected fact in the answer or its quotes, citing one of the question's sources
    (None for an unanswerable question)."""
    if not row["answerable"]:
        return None
    evidence = answer.answer + " " + " ".join(c.text for c in answer.citations)
    sources = row.get("sources", [])
    cites_source = not sources or any(c.source in sources for c in answer.citations)
    return fact_present(row.get("expected", []), evidence) and cites_source and not answer.abstained


def _problems(row: dict, answer, correct: bool | None, checks) -> list[str]:
    problems = []
    if row["answerable"] and answer.abstained:
        problems.append("abstained on an answerable question")
    elif row["answerable"] and not correct:
        problems.append(f"expected one of {row.get('expected')}")
    if not row["answerable"] and not answer.abstained:
        problems.append("answered a question the articles do not answer")
    return problems + [
        f"unsupported sentence ({c.reason}): {c.text[:80]}" for c in checks if not c.supported
    ]


def score_question(row: dict, answer) -> QuestionResult:
    """All per-question measurements for one answered question."""
    texts = [p.text for p in answer.passages]
    body = answer.answer.removesuffix(answer.date_note).rstrip()
    checks = [] if answer.abstained else cite.check(body, texts)
    any_support, needed, n_citations = _citation_counts(checks, texts)
    correct = is_correct(row, answer)
    timings = {k: v for k, v in answer.timings.items() if k.endswith("_ms")}
    return QuestionResult(
        row.get("id", ""),
        row["question"],
        row["answerable"],
        answer.answer,
        answer.abstained,
        correct,
        _supporting_rank(row, answer.passages),
        len(checks),
        sum(c.supported for c in checks),
        any_support,
        n_citations,
        needed,
        timings,
        _problems(row, answer, correct, checks),
        short_exact=_short_exact(row, answer),
    )


def _short_exact(row: dict, answer) -> bool | None:
    """Whether the short answer shown first is one of the expected answers, by KorQuAD's exact
    match (None when no short answer is shown, or the question is not answerable)."""
    if not answer.short_answer or not row["answerable"] or answer.abstained:
        return None
    return any(exact_match(answer.short_answer, e) for e in row.get("expected", []))


def share(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _retrieval_metrics(ranks: list[int | None], k: int) -> dict:
    found = [x for x in ranks if x]
    return {
        "hit_at_1": share(sum(x <= 1 for x in found), len(ranks)),
        "hit_at_5": share(sum(x <= 5 for x in found), len(ranks)),
        f"hit_at_{k}": share(sum(x <= k for x in found), len(ranks)),
        "mrr": share(sum(1 / x for x in found), len(ranks)),
        f"ndcg_at_{k}": share(sum(1 / math.log2(x + 1) for x in found if x <= k), len(ranks)),
    }


def _answer_metrics(results: list[QuestionResult]) -> dict:
    answerable = [r for r in results if r.answerable]
    abstained_unanswerable = sum(r.abstained for r in results if not r.answerable)
    claims = sum(r.sentences for r in results)
    return {
        "answer_correct": share(sum(bool(r.correct) for r in answerable), len(answerable)),
        "citation_recall": share(sum(r.supported_cited for r in results), claims),
        "citation_precision": share(
            sum(r.citations_needed for r in results), sum(r.citations for r in results)
        ),
        "faithfulness": share(sum(r.supported_any for r in results), claims),
        "abstention_precision": share(abstained_unanswerable, sum(r.abstained for r in results)),
        "abstention_recall": share(abstained_unanswerable, len(results) - len(answerable)),
        "wrongful_abstention": share(sum(r.abstained for r in answerable), len(answerable)),
        **_short_metrics(answerable),
    }


def _short_metrics(answerable: list[QuestionResult]) -> dict:
    """How often a short answer leads, and how often it is an expected answer exactly."""
    shown = [r for r in answerable if r.short_exact is not None]
    return {
        "short_shown": share(len(shown), len(answerable)),
        "short_exact": share(sum(bool(r.short_exact) for r in shown), len(shown)),
    }


def aggregate(results: list[QuestionResult], k: int) -> dict:
    """Suite-level metrics from per-question results."""
    ranks = [r.retrieved_rank for r in results if r.answerable]
    metrics = {
        "questions": len(results),
        **_retrieval_metrics(ranks, k),
        **_answer_metrics(results),
    }
    for stage in sorted({s for r in results for s in r.timings}):
        times = [r.timings[stage] for r in results if stage in r.timings]
        for name, value in latency(times).items():
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
            out.append(
                f"{name} = {value:.3f} "
                f"({'above the maximum' if name in LOWER_IS_BETTER else 'below the minimum'} "
                f"{limit})"
            )
    return out


def korquad_normalise(text: str) -> str:
    """KorQuAD 1.0's official answer normalisation: quotes, angle and round brackets to spaces,
    lower case, ASCII punctuation removed, runs of whitespace made one space."""
    text = re.sub(r"['\"《》<>〈〉()‘’]", " ", text).lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    return " ".join(text.split())


def exact_match(prediction: str, truth: str) -> bool:
    """KorQuAD 1.0's exact match."""
    return korquad_normalise(prediction) == korquad_normalise(truth)


def f1(prediction: str, truth: str) -> float:
    """KorQuAD 1.0's F1: over the characters of the normalised answers (spaces left out)."""
    predicted = list(korquad_normalise(prediction).replace(" ", ""))
    gold = list(korquad_normalise(truth).replace(" ", ""))
    same = sum((Counter(predicted) & Counter(gold)).values())
    if not same:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)
