"""Experiment for issue #18, not part of the product: how far does the random draw of swapped-name
negatives move the Korean answer threshold that ``rag fit`` chooses? Development data only
(KorQuAD 1.0 dev articles 0–69 and the seed dev questions, as ``rag fit`` builds them).

Each draw swaps every question's name as ``fit._swaps(questions, draw)`` does (``rag fit`` uses
draw 0; this script draws 0 to 5). For each single draw, and for groups of ``GROUP`` draws each
counting 1/GROUP of a question (several draws averaged), it fits the answerability model,
chooses the threshold (``fit.korean_threshold``) and prints it with the share of dev answerable
questions and near misses that then abstain (in sample). The sentence scorer is fitted once: it
learns from answerable questions only.

    .venv/bin/python scripts/swap_draws.py --cache DIR   # DIR as for rag fit --cache (~12 min)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answering import fit  # noqa: E402
from rag.answering.reader import QUESTION_FEATURES  # noqa: E402
from rag.embeddings import get_embedder  # noqa: E402
from rag.eval.korquad import near_miss  # noqa: E402
from rag.indexing import open_index  # noqa: E402
from rag.settings import load_settings  # noqa: E402

DRAWS = 6
GROUP = 3  # draws averaged in a group, each counting 1/GROUP of a question


def swapped_draws(settings, cache: Path) -> dict[int, list[dict]]:
    """Swapped-name instances of draws 0 to ``DRAWS`` - 1, featurised."""
    korquad = replace(settings, index_dir=cache / "korquad-index")
    index, questions = open_index(korquad), near_miss("dev", 0.0).questions
    embedder = get_embedder(settings)
    return {
        draw: fit.featurise(
            [fit.swapped_instance(s, index, korquad) for s in _swapped_questions(questions, draw)],
            embedder,
            index,
        )
        for draw in range(DRAWS)
    }


def _swapped_questions(questions: list[dict], draw: int) -> list[str]:
    """The questions of one draw that name something to swap."""
    swaps = fit._swaps(questions, draw)
    return [swaps[q["id"]] for q in questions if swaps[q["id"]]]


def operating_point(base: list[dict], draws: dict, group: list[int], model) -> tuple:
    """(threshold, dev answerable abstained, dev near misses abstained) with the answerability
    model fitted on ``base`` and the swapped-name draws of ``group``."""
    swapped = [i for d in group for i in draws[d]]
    data = base + swapped
    weights = [fit._weight(i) for i in base] + [1 / len(group)] * len(swapped)
    rows, labels = fit.answerable_rows(data, model)
    answerable = fit.fit_logistic(rows, labels, QUESTION_FEATURES, weights)
    p = answerable.probabilities(rows)
    t = fit.korean_threshold(data, p, labels)
    kind = np.array([i["kind"] for i in data])
    abstains = np.array([fit._abstains_anyway(i) for i in data]) | (p < t)
    return t, abstains[kind == "answerable"].mean(), abstains[kind == "near miss"].mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, required=True, help="as rag fit --cache")
    args = parser.parse_args()
    settings = load_settings()
    base = [i for i in fit.instances(settings, args.cache) if i["kind"] != "swapped name"]
    draws = swapped_draws(settings, args.cache)
    model = fit.sentence_only(fit.fit_sentence(fit.ranked_instances(base)))
    k = GROUP
    groups = [[d] for d in range(DRAWS)] + [list(range(s, s + k)) for s in range(0, DRAWS, k)]
    groups += [list(range(s, DRAWS, DRAWS // k)) for s in range(DRAWS // k)]
    print("| draws | answer threshold | dev answerable abstained | dev near misses abstained |")
    print("|---|---|---|---|")
    for group in groups:
        t, wrongful, near = operating_point(base, draws, group, model)
        print(f"| {group} | {t:.4f} | {wrongful:.3f} | {near:.3f} |", flush=True)


if __name__ == "__main__":
    main()
