"""Experiment for issue #18, not part of the product: would another form of model, over the
reader's own features, do better than the shipped linear ones? Development data only (KorQuAD
1.0 dev articles 0–69 asked three ways, and the seed dev questions, as ``rag fit`` builds them),
five folds by KorQuAD article:

    sentence scorer  the share of the answerable KorQuAD questions whose first allowed candidate
                     holds the gold answer: the shipped form (linear, listwise softmax) against
                     gradient-boosted trees (pointwise, scikit-learn)
    answerability    ROC AUC of "answered with a right sentence" over every KorQuAD instance:
                     the shipped form (logistic) against gradient-boosted trees

The answerability rows come from a sentence scorer fitted on all the dev data, as ``rag fit``
does. The seed questions are always in the training folds.

    .venv/bin/python scripts/reader_cv.py [--cache DIR]   # DIR as for rag fit --cache
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answering import fit  # noqa: E402
from rag.answering.reader import QUESTION_FEATURES, SENTENCE_FEATURES  # noqa: E402
from rag.eval.korquad import near_miss  # noqa: E402
from rag.settings import load_settings  # noqa: E402

FOLDS = 5


def _folds(data: list[dict]) -> np.ndarray:
    """Each instance's fold: its KorQuAD article modulo ``FOLDS`` (-1 for a seed question). A
    swapped-name question follows its own question in ``fit.korquad_instances``."""
    article = {q["question"]: q["article"] for q in near_miss("dev", 0.0).questions}
    out, last = [], 0
    for inst in data:
        if inst["kind"] == "seed":
            out.append(-1)
            continue
        last = article.get(inst["question"], last)
        out.append(last % FOLDS)
    return np.array(out)


def _first_right(inst: dict, scores) -> bool:
    allowed = [j for j, c in enumerate(inst["candidates"]) if not c.conflict]
    return bool(allowed) and inst["labels"][max(allowed, key=lambda j: scores[j])]


def _matrix(cands, features) -> np.ndarray:
    return np.array([[c.features[f] for f in features] for c in cands])


def sentence_cv(data: list[dict], fold: np.ndarray) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    asked = [k for k, i in enumerate(data) if i["gold"] and i["kind"] == "answerable"]
    hits = {"linear, listwise (shipped)": 0, "gradient-boosted trees": 0}
    for f in range(FOLDS):
        train = fit.ranked_instances([i for k, i in enumerate(data) if fold[k] != f])
        linear = fit.fit_sentence(train)
        trees = HistGradientBoostingClassifier(
            max_iter=300, learning_rate=0.05, max_leaf_nodes=31, min_samples_leaf=50, random_state=0
        ).fit(
            np.vstack([_matrix(i["candidates"], SENTENCE_FEATURES) for i in train]),
            np.concatenate([i["labels"] for i in train]),
        )
        for k in (k for k in asked if fold[k] == f):
            cands = data[k]["candidates"]
            if not cands:
                continue
            hits["linear, listwise (shipped)"] += _first_right(
                data[k], linear.scores([c.features for c in cands])
            )
            hits["gradient-boosted trees"] += _first_right(
                data[k], trees.decision_function(_matrix(cands, SENTENCE_FEATURES))
            )
    return {name: n / len(asked) for name, n in hits.items()}


def answerability_cv(data: list[dict], fold: np.ndarray) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sentence = fit.fit_sentence(fit.ranked_instances(data))
    rows, labels = fit.answerable_rows(data, fit.sentence_only(sentence))
    x = np.array([[r[f] for f in QUESTION_FEATURES] for r in rows])
    y = np.array(labels)
    makers = {
        "logistic (shipped)": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(C=fit.C, max_iter=5000)
        ),
        "gradient-boosted trees": lambda: HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40, random_state=0
        ),
        "gradient-boosted trees, depth 3": lambda: HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, max_depth=3, min_samples_leaf=40, random_state=0
        ),
    }
    korquad = fold >= 0
    out = {}
    for name, make in makers.items():
        p = np.zeros(len(y))
        for f in range(FOLDS):
            model = make().fit(x[fold != f], y[fold != f])
            p[fold == f] = model.predict_proba(x[fold == f])[:, 1]
        out[name] = float(roc_auc_score(y[korquad], p[korquad]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="as rag fit --cache: reuse indexes and passages")
    args = parser.parse_args()
    data = fit.instances(load_settings(), args.cache)
    fold = _folds(data)
    print("| sentence scorer (dev, 5 folds by article) | right sentence first |\n|---|---|")
    for name, share in sentence_cv(data, fold).items():
        print(f"| {name} | {share:.3f} |")
    print("\n| answerability model (dev, 5 folds by article) | ROC AUC |\n|---|---|")
    for name, auc in answerability_cv(data, fold).items():
        print(f"| {name} | {auc:.3f} |")


if __name__ == "__main__":
    main()
