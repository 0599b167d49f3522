"""Answer benchmark (`rag bench answers`): the reader against the composer it replaced, in one run,
on development and test data side by side.

KorQuAD 1.0 dev, per split (articles 0–69 dev, 70–139 test): every paragraph indexed except a
tenth left out (their articles' other paragraphs stay in), every question asked. Figures:

    answered correctly   answerable questions whose answer holds the gold answer
    abstained (left out) questions whose paragraph is not indexed and that abstain
    … answer nowhere else the same, over those whose gold answer is in none of their article's
                         indexed paragraphs (Wikipedia repeats facts: the others may be
                         answered from another paragraph)
    wrongful abstention  answerable questions that abstain
    short answers        share of answerable questions given one; KorQuAD's exact match and
                         character F1 over those shown
    ask p50/p95          warm, per question

The seed suites (dev and test): answer correct with a citation to a source article, abstention on
the unanswerable ones, wrongful abstention. Both composers answer from the same passages.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from ..answering import ask
from ..answering.ask import IndexedSentences
from ..embeddings import get_embedder
from ..eval.korquad import near_miss, write_corpus
from ..eval.metrics import exact_match, f1, is_correct, latency, normalise, share
from ..eval.suites import load_suite
from ..indexing import ingest, open_index
from ..retrieve import search_index
from ..scratch import scratch_dir
from ..settings import Settings
from . import legacy_composer


def _log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _legacy(question: str, passages, settings: Settings, sentences) -> object:
    return legacy_composer.compose(question, passages, settings, sentences)


def _answers(settings: Settings, questions: list[str]):
    """Each question answered by the product (``ask``, timed) and by the legacy composer on the
    same passages."""
    index, embedder = open_index(settings), get_embedder(settings)
    sentences = IndexedSentences(embedder, index)
    ours, legacy, ms = [], [], []
    for question in questions:
        t = time.perf_counter()
        ours.append(ask(question, settings))
        ms.append((time.perf_counter() - t) * 1000)
        passages = search_index(index, question, settings)
        legacy.append(_legacy(question, passages, settings, sentences))
    return ours, legacy, ms


def _left_out_figures(questions: list[dict], answers) -> dict:
    """Abstention on the questions of left-out paragraphs, all of them and the clean ones."""
    left_out = [(q, a) for q, a in zip(questions, answers) if not q["answerable"]]
    clean = [a for q, a in left_out if not q["answer_elsewhere"]]
    return {
        "left_out": len(left_out),
        "left_out_clean": len(clean),
        "abstained_left_out": share(sum(a.abstained for _, a in left_out), len(left_out)),
        "abstained_nowhere_else": share(sum(a.abstained for a in clean), len(clean)),
    }


def _korquad_figures(questions: list[dict], answers) -> dict:
    answerable = [(q, a) for q, a in zip(questions, answers) if q["answerable"]]
    held = [
        normalise(q["answer"]) in normalise(a.answer) and not a.abstained for q, a in answerable
    ]
    shown = [(q, a) for q, a in answerable if getattr(a, "short_answer", "") and not a.abstained]
    return {
        "answerable": len(answerable),
        "answered_correctly": share(sum(held), len(answerable)),
        "wrongful_abstention": share(sum(a.abstained for _, a in answerable), len(answerable)),
        "short_shown": share(len(shown), len(answerable)),
        "short_em": share(
            sum(exact_match(a.short_answer, q["answer"]) for q, a in shown), len(shown)
        ),
        "short_f1": share(sum(f1(a.short_answer, q["answer"]) for q, a in shown), len(shown)),
    } | _left_out_figures(questions, answers)


def korquad(settings: Settings, split: str, articles: int | None = None, log=_log) -> dict:
    """The KorQuAD figures of one split, for the reader and the legacy composer."""
    selection = near_miss(split, 0.1, seed=1, articles=articles)
    work = scratch_dir(f"rag-bench-answers-{split}-")
    write_corpus(selection.files, work / "corpus")
    settings = replace(settings, index_dir=work / "index")
    log(
        f"KorQuAD {split}: indexing {len(selection.files)} paragraphs ({len(selection.left_out)} "
        "left out) …"
    )
    ingest([work / "corpus"], settings, quiet=True)
    log(f"KorQuAD {split}: {len(selection.questions)} questions …")
    ours, legacy, ms = _answers(settings, [q["question"] for q in selection.questions])
    return {
        "ours": {**_korquad_figures(selection.questions, ours), "ask": latency(ms)},
        "legacy": _korquad_figures(selection.questions, legacy),
    }


def _seed_figures(rows: list[dict], answers) -> dict:
    answerable = [(r, a) for r, a in zip(rows, answers) if r["answerable"]]
    others = [a for r, a in zip(rows, answers) if not r["answerable"]]
    return {
        "answerable": len(answerable),
        "unanswerable": len(others),
        "answer_correct": share(
            sum(bool(is_correct(r, a)) for r, a in answerable), len(answerable)
        ),
        "abstention": share(sum(a.abstained for a in others), len(others)),
        "wrongful_abstention": share(sum(a.abstained for _, a in answerable), len(answerable)),
    }


def seeds(settings: Settings, suite_name: str) -> dict:
    suite = load_suite(suite_name)
    settings = replace(settings, index_dir=scratch_dir("rag-bench-seeds-") / "index")
    ingest([suite.corpus], settings, quiet=True)
    ours, legacy, ms = _answers(settings, [r["question"] for r in suite.questions])
    return {
        "ours": {**_seed_figures(suite.questions, ours), "ask": latency(ms)},
        "legacy": _seed_figures(suite.questions, legacy),
    }


def run(settings: Settings, articles: int | None = None, log=_log) -> dict:
    """Every figure of the module docstring; ``articles`` samples the first N articles of each
    split."""
    out = {"seeds_dev": seeds(settings, "seeds_dev"), "seeds_test": seeds(settings, "seeds_test")}
    for split in ("dev", "test"):
        out[f"korquad_{split}"] = korquad(settings, split, articles, log)
    return out


def format_table(result: dict) -> str:
    lines = []
    kq = [
        "answered_correctly",
        "abstained_left_out",
        "abstained_nowhere_else",
        "wrongful_abstention",
        "short_shown",
        "short_em",
        "short_f1",
    ]
    lines.append(
        "| KorQuAD (a tenth of the paragraphs left out) | " + " | ".join(kq) + " | ask p50/p95 ms |"
    )
    lines.append("|---" * (len(kq) + 2) + "|")
    for split in ("korquad_dev", "korquad_test"):
        if split not in result:
            continue
        for who in ("ours", "legacy"):
            m = result[split][who]
            ask_ms = f"{m['ask']['p50_ms']} / {m['ask']['p95_ms']}" if "ask" in m else ""
            cells = " | ".join("" if m.get(k) is None else f"{m[k]:.3f}" for k in kq)
            lines.append(
                f"| {split} {who} ({m['answerable']} + {m['left_out']} left out, "
                f"{m['left_out_clean']} nowhere else) | {cells} | "
                f"{ask_ms} |"
            )
    seeds_cols = ["answer_correct", "abstention", "wrongful_abstention"]
    lines += ["", "| seeds | " + " | ".join(seeds_cols) + " | ask p50/p95 ms |", "|---" * 5 + "|"]
    for suite in ("seeds_dev", "seeds_test"):
        for who in ("ours", "legacy"):
            m = result[suite][who]
            ask_ms = f"{m['ask']['p50_ms']} / {m['ask']['p95_ms']}" if "ask" in m else ""
            cells = " | ".join(f"{m[k]:.3f}" for k in seeds_cols)
            lines.append(
                f"| {suite} {who} ({m['answerable']} + {m['unanswerable']}) | {cells} | {ask_ms} |"
            )
    return "\n".join(lines)
