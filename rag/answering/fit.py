"""Fitting the reader (``rag fit``): the sentence and span models and their thresholds, from
development data only, written to ``model.json``.

Development data: KorQuAD 1.0 dev's articles 0–69 (all their paragraphs indexed) and the seed
development questions. Every KorQuAD question is asked three ways:

    answerable    as it is
    near miss     its own paragraph taken out of the retrieved passages, its article's other
                  paragraphs left in: the index holds the topic but not the fact
    swapped name  a proper name of the question replaced by one from another article

A sentence is a positive example when it holds the gold answer (in a passage from the gold
paragraph); in a near miss or a swapped-name question no sentence is. The span model learns from
the phrases of gold sentences that the reader picks: the phrase equal to the gold answer (KorQuAD's
normalisation) is the positive one. The thresholds are chosen on the same data: abstain below the
probability that keeps wrongful abstention at ``WRONGFUL`` of answerable questions; show a short
answer from the span probability where its exact match over shown answers reaches ``SHORT_EM``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..embeddings import get_embedder
from ..eval.korquad import KORQUAD_FILE, near_miss, write_corpus
from ..eval.metrics import exact_match, fact_present
from ..indexing import ingest, open_index
from ..retrieve import search_index
from ..settings import Settings
from .ask import IndexedSentences
from .question import analyse
from .reader import (
    MODEL_FILE,
    SENTENCE_FEATURES,
    SPAN_FEATURES,
    Candidate,
    candidates,
    span_candidates,
)

WRONGFUL = 0.04  # wrongful abstention the answer threshold allows on dev questions
SHORT_EM = 0.70  # exact match over shown short answers the short threshold keeps on dev
SECOND_RATIO = (
    0.8  # a second sentence is quoted when its probability reaches this share of the first's
)
C = 1.0  # inverse L2 strength of both logistic models


def _log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _korquad_index(settings: Settings, work: Path):
    """KorQuAD dev's development articles, every paragraph indexed."""
    selection = near_miss("dev", 0.0)
    write_corpus(selection.files, work / "korquad")
    korquad = replace(settings, index_dir=work / "korquad-index")
    ingest([work / "korquad"], korquad, quiet=True)
    return korquad, selection.questions


def _swapped(question: str, entities: list[str], pool: list[str], rng: random.Random) -> str | None:
    """The question with its first proper name replaced by another article's."""
    names = [e for e in entities if e in question]
    if not names or not pool:
        return None
    other = rng.choice([p for p in pool if p != names[0]] or pool)
    return question.replace(names[0], other, 1)


def korquad_instances(settings: Settings, work: Path, log=_log) -> list[dict]:
    """(question, passages, gold) instances of the three kinds, from the development articles."""
    korquad, questions = _korquad_index(settings, work)
    index = open_index(korquad)
    rng = random.Random(0)
    pool_by_article: dict[int, list[str]] = {}
    analysed = {q["id"]: analyse(q["question"]) for q in questions}
    for q in questions:
        names = [e for e in analysed[q["id"]].entities if re.search(r"[가-힣]", e)]
        pool_by_article.setdefault(q["article"], []).extend(names)
    out = []
    started = time.time()
    for n, q in enumerate(questions, 1):
        hits = search_index(index, q["question"], korquad, k=10)
        gold = {"answer": q["answer"], "source": q["gold"]}
        out.append(
            {"question": q["question"], "passages": hits[:5], "gold": gold, "kind": "answerable"}
        )
        others = [p for p in hits if p.source != q["gold"]][:5]
        out.append(
            {"question": q["question"], "passages": others, "gold": None, "kind": "near miss"}
        )
        pool = [e for a, names in pool_by_article.items() if a != q["article"] for e in names]
        swapped = _swapped(q["question"], [e for e in analysed[q["id"]].entities], pool, rng)
        if swapped:
            passages = search_index(index, swapped, korquad, k=5)
            out.append(
                {"question": swapped, "passages": passages, "gold": None, "kind": "swapped name"}
            )
        if n % 500 == 0:
            log(f"  {n} of {len(questions)} questions ({time.time() - started:.0f} s)")
    return out, index


def seed_instances(settings: Settings, work: Path) -> tuple[list[dict], object]:
    """The seed development questions over the seed articles."""
    from ..eval.suites import load_suite

    suite = load_suite("seeds_dev")
    seeds = replace(settings, index_dir=work / "seed-index")
    ingest([suite.corpus], seeds, quiet=True)
    index = open_index(seeds)
    out = []
    for row in suite.questions:
        passages = search_index(index, row["question"], seeds)
        gold = (
            {"expected": row["expected"], "sources": row["sources"]} if row["answerable"] else None
        )
        out.append(
            {"question": row["question"], "passages": passages, "gold": gold, "kind": "seed"}
        )
    return out, index


def _holds_gold(c: Candidate, passages, gold: dict | None) -> bool:
    if gold is None:
        return False
    source = passages[c.passage].source
    if "answer" in gold:
        return source == gold["source"] and gold["answer"] in c.span.text
    return source in gold["sources"] and fact_present(gold["expected"], c.span.text)


def _gold_span(gold: dict | None) -> list[str]:
    if gold is None:
        return []
    return [gold["answer"]] if "answer" in gold else list(gold["expected"])


def featurise(instances: list[dict], embedder, index, log=_log) -> list[dict]:
    """Each instance's candidates, with their labels."""
    reader = IndexedSentences(embedder, index)
    for n, inst in enumerate(instances, 1):
        q = analyse(inst["question"])
        inst["analysis"] = q
        inst["candidates"] = candidates(q, inst["passages"], reader)
        inst["labels"] = [
            _holds_gold(c, inst["passages"], inst["gold"]) for c in inst["candidates"]
        ]
        if n % 1000 == 0:
            log(f"  features of {n} of {len(instances)} instances")
    return instances


def fit_logistic(rows: list[dict], labels: list[bool], features: tuple[str, ...]) -> dict:
    """A standardised, L2-regularised logistic regression (scikit-learn's lbfgs: deterministic)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r[f] for f in features] for r in rows], dtype=np.float64)
    y = np.array(labels, dtype=int)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=C, max_iter=2000).fit((x - mean) / scale, y)
    return {
        "features": list(features),
        "mean": _rounded(mean),
        "scale": _rounded(scale),
        "coef": _rounded(model.coef_[0]),
        "intercept": round(float(model.intercept_[0]), 6),
    }


def _rounded(values) -> list[float]:
    return [round(float(v), 6) for v in values]


def best_answer(inst: dict, probabilities: np.ndarray) -> tuple[float, Candidate | None]:
    """The most probable candidate that meets the question's constraints, and its probability."""
    ok = [(p, c) for p, c in zip(probabilities, inst["candidates"]) if not c.conflict]
    if not ok:
        return 0.0, None
    p, c = max(ok, key=lambda pc: pc[0])
    return float(p), c


def answer_threshold(instances: list[dict], scored: list[np.ndarray]) -> float:
    """The highest threshold that abstains on at most ``WRONGFUL`` of answerable questions whose
    best candidate is right (abstaining on a wrong one is no loss)."""
    kept = []
    for inst, probs in zip(instances, scored):
        if inst["gold"] is not None:
            p, c = best_answer(inst, probs)
            kept.append(p)
    kept.sort()
    return round(float(kept[int(WRONGFUL * len(kept))]) if kept else 0.5, 4)


def span_rows(instances: list[dict], scored: list[np.ndarray], threshold: float):
    """(rows, labels, groups, gold answers) of the phrases of each answered question's chosen sentence."""
    rows, labels, groups, golds = [], [], [], []
    for g, (inst, probs) in enumerate(zip(instances, scored)):
        p, c = best_answer(inst, probs)
        if c is None or p < threshold or inst["gold"] is None or not inst["analysis"].asks_span:
            continue
        truths = _gold_span(inst["gold"])
        for phrase, feats in span_candidates(inst["analysis"], c):
            rows.append(feats)
            labels.append(any(exact_match(phrase.text, t) for t in truths))
            groups.append(g)
            golds.append((phrase.text, truths))
    return rows, labels, groups, golds


def short_threshold(rows, probabilities, groups, golds) -> float:
    """The lowest span probability at which the shown short answers (each question's most
    probable phrase) reach ``SHORT_EM`` exact match on dev."""
    best: dict[int, tuple[float, bool]] = {}
    for p, g, (text, truths) in zip(probabilities, groups, golds):
        if g not in best or p > best[g][0]:
            best[g] = (float(p), any(exact_match(text, t) for t in truths))
    ranked = sorted(best.values(), reverse=True)
    cut, hits = 1.0, 0
    for n, (p, hit) in enumerate(ranked, 1):
        hits += hit
        if hits / n >= SHORT_EM:
            cut = p
    return round(cut, 4)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def fit(settings: Settings, out: Path = MODEL_FILE, log=_log) -> dict:
    """Fit the reader on development data and write ``out``; returns what was written."""
    from .reader import Logistic

    work = Path(tempfile.mkdtemp(prefix="rag-fit-"))
    embedder = get_embedder(settings)
    log("Asking KorQuAD's development questions (articles 0-69), three ways each …")
    kq, kq_index = korquad_instances(settings, work, log)
    featurise(kq, embedder, kq_index, log)
    seeds, seed_index = seed_instances(settings, work)
    featurise(seeds, embedder, seed_index, log)
    instances = kq + seeds
    rows = [c.features for inst in instances for c in inst["candidates"]]
    labels = [y for inst in instances for y in inst["labels"]]
    log(f"Fitting the sentence model on {len(rows)} candidates of {len(instances)} questions …")
    sentence = fit_logistic(rows, labels, SENTENCE_FEATURES)
    model = Logistic(**{k: tuple(v) if isinstance(v, list) else v for k, v in sentence.items()})
    scored = [model.probabilities([c.features for c in inst["candidates"]]) for inst in instances]
    threshold = answer_threshold(instances, scored)
    s_rows, s_labels, groups, golds = span_rows(instances, scored, threshold)
    log(f"Fitting the span model on {len(s_rows)} phrases of {len(set(groups))} answers …")
    span = fit_logistic(s_rows, s_labels, SPAN_FEATURES)
    span_model = Logistic(**{k: tuple(v) if isinstance(v, list) else v for k, v in span.items()})
    short = short_threshold(s_rows, span_model.probabilities(s_rows), groups, golds)
    kinds = {
        k: sum(i["kind"] == k for i in instances)
        for k in ("answerable", "near miss", "swapped name", "seed")
    }
    written = {
        "sentence": sentence,
        "span": span,
        "answer_threshold": threshold,
        "second_ratio": SECOND_RATIO,
        "short_threshold": short,
        "fitted_on": {
            "korquad": _sha(KORQUAD_FILE),
            "korquad_articles": "0-69",
            "instances": kinds,
            "candidates": len(rows),
            "phrases": len(s_rows),
            "wrongful_abstention": WRONGFUL,
            "short_em": SHORT_EM,
            "C": C,
        },
    }
    Path(out).write_text(json.dumps(written, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    log(f"Wrote {out}: answer threshold {threshold}, short-answer threshold {short}")
    return written
