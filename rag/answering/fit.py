"""Fitting the reader (``rag fit``): the sentence and span models and their thresholds, from
development data only, written to ``model.json``.

Development data: KorQuAD 1.0 dev's articles 0–69 (all their paragraphs indexed) and the seed
development questions. Every KorQuAD question is asked three ways:

    answerable    as it is
    near miss     against an index without its paragraph (four such indexes, each lacking
                  another tenth of the paragraphs) that holds its article's other paragraphs:
                  the topic, but not the fact
    swapped name  a proper name of the question replaced by one from another article

A sentence is a positive example when it holds the gold answer (in a passage from the gold
paragraph); in a near miss or a swapped-name question no sentence is. The span model
(gradient-boosted trees) learns from the phrases of gold sentences that the reader picks: the
phrase equal to the gold answer (KorQuAD's normalisation) is the positive one. The thresholds are
chosen on the same data: a Korean question abstains below the answerability that maximises the
share of questions handled right (answered with a right sentence, or abstained when not
answerable), averaged over KorQuAD's answerable questions and near misses, mixed as the seed
development questions mix answerable and unanswerable ones (a fifth unanswerable), and over the
Korean seed development questions (news, the product's own kind of text); an English question below
the answerability that keeps its wrongful abstention at ``WRONGFUL`` (the dev data have too few
English unanswerables); a short answer is shown from the span probability where its exact match
over shown answers reaches ``SHORT_EM``, on probabilities from span models fitted without the
answer's article.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..embeddings import get_embedder
from ..eval.korquad import KORQUAD_FILE, near_miss, write_corpus
from ..eval.metrics import exact_match, fact_present
from ..indexing import ingest, open_index
from ..retrieve import search_index
from ..settings import Settings
from .align import in_article_words
from .ask import IndexedSentences
from .question import analyse
from .reader import (
    MODEL_FILE,
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    SPAN_FEATURES,
    Candidate,
    Linear,
    Model,
    Trees,
    absent_names,
    can_answer,
    candidates,
    lacks_kind,
    question_features,
    score,
    span_candidates,
)

WRONGFUL = 0.04  # wrongful abstention the English answer threshold allows on dev questions
SHORT_EM = 0.65  # exact match over shown short answers the short threshold keeps on dev (held out)
# A second sentence is quoted when its probability (softmax over the candidates) reaches this
# share of the first's: on dev, the answer then holds the gold one for 0.90 of answered questions
# (0.87 with one sentence), quoting two sentences for a fifth of them.
SECOND_RATIO = 0.3
C = 1.0  # inverse L2 strength of both logistic models
# The span model's trees: 100 of depth 4 (some 2,800 nodes), each leaf at least 40 phrases; no
# early stopping and a fixed seed, so that a refit reproduces them.
TREES = {
    "max_iter": 100,
    "max_depth": 4,
    "learning_rate": 0.1,
    "min_samples_leaf": 40,
    "early_stopping": False,
    "random_state": 0,
}
SEED_WEIGHT = 1.0
LEAVE_OUT_DRAWS = (
    4  # indexes of the development articles, each lacking another tenth of the paragraphs
)


def _log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _korquad_index(settings: Settings, work: Path):
    """KorQuAD dev's development articles, every paragraph indexed."""
    selection = near_miss("dev", 0.0)
    write_corpus(selection.files, work / "korquad")
    korquad = replace(settings, index_dir=work / "korquad-index")
    ingest([work / "korquad"], korquad, quiet=True)
    return korquad, selection.questions


def _swapped(question: str, key: str, entities: list[str], pool: Counter) -> str | None:
    """The question with its first proper name replaced by one of ``pool`` (names counted by the
    questions that ask about them), drawn in proportion to its count by weighted rendezvous
    hashing on ``key``: a name's draw is -ln(u) / count, u its hash with the key, and the least
    wins. The draw depends on the key and that name alone, so a question keeps its swap when
    other names come and go (only a new name that draws lower changes it): a change to the
    question analysis moves the swapped-name negatives only where it touches them."""
    names = [e for e in entities if e in question]
    others = [n for n in pool if n != names[0]] if names else []
    if not others:
        return None

    def draw(name: str) -> float:
        digest = hashlib.sha1(f"{key}\t{name}".encode()).digest()
        return -math.log((int.from_bytes(digest[:8], "big") + 1) / 2**64) / pool[name]

    return question.replace(names[0], min(others, key=draw), 1)


def korquad_instances(settings: Settings, work: Path, log=_log) -> list[dict]:
    """(question, passages, gold) instances of the three kinds, from the development articles:
    every question against the full index, as asked and with a name swapped, and the questions
    of left-out paragraphs against indexes that lack them."""
    korquad, questions = _korquad_index(settings, work)
    index = open_index(korquad)
    swaps = _swaps(questions)
    out = []
    started = time.time()
    for n, q in enumerate(questions, 1):
        hits = search_index(index, q["question"], korquad)
        gold = {"answer": q["answer"], "source": q["gold"]}
        out.append(
            {"question": q["question"], "passages": hits, "gold": gold, "kind": "answerable"}
        )
        if swaps[q["id"]]:
            out.append(swapped_instance(swaps[q["id"]], index, korquad))
        if n % 500 == 0:
            log(f"  {n} of {len(questions)} questions ({time.time() - started:.0f} s)")
    for lacking, left_out in _left_out_indexes(korquad, work):
        for q in (q for q in questions if q["gold"] in left_out):
            passages = search_index(open_index(lacking), q["question"], lacking)
            out.append(
                {"question": q["question"], "passages": passages, "gold": None, "kind": "near miss"}
            )
    return out


def swapped_instance(question: str, index, korquad: Settings) -> dict:
    """A swapped-name question with its passages: unanswerable, so no gold."""
    passages = search_index(index, question, korquad, k=5)
    return {"question": question, "passages": passages, "gold": None, "kind": "swapped name"}


def _swaps(questions: list[dict], draw: int = 0) -> dict[str, str | None]:
    """Each question with a Korean proper name of it replaced by one that only other articles'
    questions name (None when it names none). ``draw`` numbers independent draws: ``rag fit``
    uses the first; ``scripts/swap_draws.py`` measures how far others move the fit."""
    entities = {q["id"]: analyse(q["question"]).entities for q in questions}
    names_by_article: dict[int, Counter] = {}
    for q in questions:
        names = [e for e in entities[q["id"]] if re.search(r"[가-힣]", e)]
        names_by_article.setdefault(q["article"], Counter()).update(names)
    every = sum(names_by_article.values(), Counter())
    pools = {
        a: Counter({n: c for n, c in every.items() if n not in own})
        for a, own in names_by_article.items()
    }
    return {
        q["id"]: _swapped(
            q["question"], f"{draw}/{q['id']}", list(entities[q["id"]]), pools[q["article"]]
        )
        for q in questions
    }


def _left_out_indexes(korquad: Settings, work: Path):
    """(settings, left-out paragraph files) of ``LEAVE_OUT_DRAWS`` indexes of the development
    articles, each without another tenth of their paragraphs (never an article's only one):
    their questions are near misses, the index holding their article's other paragraphs. Each is
    the full index rebuilt without those paragraphs, its vectors kept (nothing is embedded)."""
    for draw in range(LEAVE_OUT_DRAWS):
        selection = near_miss("dev", 0.1, seed=100 + draw)
        corpus, target = work / f"left-out-{draw}", work / f"left-out-{draw}-index"
        write_corpus(selection.files, corpus)
        shutil.rmtree(target, ignore_errors=True)  # an unfinished run's
        shutil.copytree(korquad.index_dir, target)
        lacking = replace(korquad, index_dir=target)
        ingest([corpus], lacking, rebuild=True, quiet=True)
        yield lacking, selection.left_out


def seed_instances(settings: Settings, work: Path) -> list[dict]:
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
    return out


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
        q = in_article_words(analyse(inst["question"]), inst["passages"], reader)
        inst["analysis"] = q
        inst["candidates"] = candidates(q, inst["passages"], reader)
        inst["labels"] = [
            _holds_gold(c, inst["passages"], inst["gold"]) for c in inst["candidates"]
        ]
        if n % 1000 == 0:
            log(f"  features of {n} of {len(instances)} instances")
    return instances


def instances(settings: Settings, cache: Path | None = None, log=_log) -> list[dict]:
    """Every development instance, featurised. ``cache``, a directory, keeps the indexes and
    the retrieved passages: the features and models can then be refitted without asking the
    questions again (a temporary directory, removed afterwards, when not given)."""
    import pickle

    work = Path(cache) if cache else Path(tempfile.mkdtemp(prefix="rag-fit-"))
    asked = work / "asked.pickle"
    try:
        if asked.exists():
            kq, seeds = pickle.loads(asked.read_bytes())
        else:
            work.mkdir(parents=True, exist_ok=True)
            log("Asking KorQuAD's development questions (articles 0-69), three ways each …")
            kq = korquad_instances(settings, work, log)
            seeds = seed_instances(settings, work)
            asked.write_bytes(pickle.dumps((kq, seeds)))
        embedder = get_embedder(settings)
        for found, index_dir in ((kq, "korquad-index"), (seeds, "seed-index")):
            index = open_index(replace(settings, index_dir=work / index_dir))
            featurise(found, embedder, index, log)
        return kq + seeds
    finally:
        if not cache:
            shutil.rmtree(work, ignore_errors=True)


def _standardised(rows: list[dict], features: tuple[str, ...]):
    x = np.array([[r[f] for f in features] for r in rows], dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return (x - mean) / scale, mean, scale


def _linear(features, mean, scale, coef, intercept, logistic: bool) -> Linear:
    r = lambda v: tuple(round(float(x), 6) for x in v)  # noqa: E731
    return Linear(tuple(features), r(mean), r(scale), r(coef), round(float(intercept), 6), logistic)


def fit_logistic(
    rows: list[dict], labels: list[bool], features: tuple[str, ...], weights=None
) -> Linear:
    """A standardised, L2-regularised logistic regression (scikit-learn's lbfgs: deterministic)."""
    from sklearn.linear_model import LogisticRegression

    x, mean, scale = _standardised(rows, features)
    model = LogisticRegression(C=C, max_iter=5000).fit(
        x, np.array(labels, dtype=int), sample_weight=weights
    )
    return _linear(features, mean, scale, model.coef_[0], model.intercept_[0], True)


def fit_listwise(
    groups: list[tuple[list[dict], list[bool]]], features: tuple[str, ...], weights=None
) -> Linear:
    """A linear scorer whose softmax over each group's candidates puts the mass on its positive
    ones (L2-regularised, L-BFGS): ranking within a question is what the sentence model is for."""
    from scipy.optimize import minimize

    rows = [r for g, _ in groups for r in g]
    x, mean, scale = _standardised(rows, features)
    y = np.array([v for _, labels in groups for v in labels], dtype=bool)
    bounds = np.cumsum([0] + [len(g) for g, _ in groups])
    starts = bounds[:-1]
    group_of = np.repeat(np.arange(len(groups)), np.diff(bounds))
    weight = np.ones(len(groups)) if weights is None else np.asarray(weights, dtype=np.float64)

    def loss(w):
        s = x @ w
        top = np.maximum.reduceat(s, starts)
        e = np.exp(s - top[group_of])
        total = np.add.reduceat(e, starts)
        hit = np.add.reduceat(np.where(y, e, 0.0), starts)
        value = np.sum(weight * (np.log(total) - np.log(hit))) + 0.5 / C * w @ w
        per_row = e / total[group_of] - np.where(y, e, 0.0) / hit[group_of]
        grad = x.T @ (weight[group_of] * per_row) + w / C
        return value, grad

    w = minimize(
        loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 2000}
    ).x
    return _linear(features, mean, scale, w, 0.0, False)


def fit_trees(rows: list[dict], labels: list[bool], features: tuple[str, ...]) -> Trees:
    """Gradient-boosted trees, pointwise (scikit-learn's histogram boosting; deterministic: no
    early stopping, a fixed seed), written out as node tables."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.array([[r[f] for f in features] for r in rows], dtype=np.float64)
    model = HistGradientBoostingClassifier(**TREES).fit(x, np.array(labels, dtype=int))
    tables: dict[str, list] = {k: [] for k in ("feature", "threshold", "left", "right", "value")}
    for (tree,) in model._predictors:  # one predictor per iteration for two classes
        nodes = tree.nodes
        leaf = nodes["is_leaf"].astype(bool)
        tables["feature"].append([-1 if f else int(i) for f, i in zip(leaf, nodes["feature_idx"])])
        tables["threshold"].append([float(t) for t in nodes["num_threshold"]])
        tables["left"].append([int(n) for n in nodes["left"]])
        tables["right"].append([int(n) for n in nodes["right"]])
        tables["value"].append([float(v) if f else 0.0 for f, v in zip(leaf, nodes["value"])])
    return Trees(features, float(model._baseline_prediction.ravel()[0]), **tables)


def _scored(inst: dict, model: Model) -> Candidate | None:
    """Score an instance's candidates; its best allowed one."""
    score(model, inst["candidates"])
    allowed = [c for c in inst["candidates"] if not c.conflict]
    return max(allowed, key=lambda c: c.score) if allowed else None


def answerable_rows(instances: list[dict], model: Model):
    """(question features, label) per instance: answerable with its best candidate right."""
    rows, labels = [], []
    for inst in instances:
        best = _scored(inst, model)
        rows.append(question_features(inst["analysis"], inst["passages"], inst["candidates"]))
        right = best is not None and inst["labels"][inst["candidates"].index(best)]
        labels.append(bool(inst["gold"] is not None and right))
    return rows, labels


def english_threshold(instances: list[dict], probabilities: np.ndarray) -> float:
    """The answerability at which at most ``WRONGFUL`` of the answerable English questions abstain,
    those the kind check (``lacks_kind``) makes abstain included. English questions' words cannot
    meet Korean articles', so their scores run lower; only the seed dev questions have them."""
    answerable = [
        (inst, float(p))
        for inst, p in zip(instances, probabilities)
        if inst["gold"] is not None and inst["analysis"].language == "en"
    ]
    passing = sorted(
        p
        for inst, p in answerable
        if not lacks_kind(inst["analysis"], [c for c in inst["candidates"] if not c.conflict])
    )
    budget = max(0, int(WRONGFUL * len(answerable)) - (len(answerable) - len(passing)))
    return _at_most(passing[min(budget, len(passing) - 1)]) if passing else 0.5


def _at_most(p: float) -> float:
    """``p`` cut down to four decimals, for a threshold set at a question's score: rounding up
    would shut out the very question it was set by (0.002794 → 0.0028)."""
    return math.floor(float(p) * 10_000) / 10_000


def _abstains_anyway(inst: dict) -> bool:
    """Whether the composer abstains whatever the answerability says: no sentence is allowed, a
    name of the question is in no passage, or the kind check fails."""
    q, allowed = inst["analysis"], [c for c in inst["candidates"] if not c.conflict]
    return not allowed or bool(absent_names(q, inst["passages"])) or lacks_kind(q, allowed)


def unanswerable_share(instances: list[dict]) -> float:
    """The share of unanswerable questions among the seed development questions: how often the
    product's own questions are not answered by the articles."""
    seeds = [inst for inst in instances if inst["kind"] == "seed"]
    return sum(inst["gold"] is None for inst in seeds) / len(seeds) if seeds else 0.5


def _handled_right(instances: list[dict], probabilities, right: list[bool]):
    """(answerability of each answerable question answered with a right sentence, None when it
    cannot be; of each unanswerable one that is not abstained anyway, None when it is)."""
    answerable, unanswerable = [], []
    for inst, p, ok in zip(instances, probabilities, right):
        forced = _abstains_anyway(inst)
        if inst["gold"] is not None:
            answerable.append(float(p) if ok and not forced else None)
        else:
            unanswerable.append(None if forced else float(p))
    return answerable, unanswerable


def _accuracy(answerable: list, unanswerable: list, mix: float, t: float) -> float:
    """Share handled right at threshold ``t`` when ``mix`` of the questions are unanswerable."""
    answered = sum(p is not None and p >= t for p in answerable) / max(len(answerable), 1)
    abstained = sum(p is None or p < t for p in unanswerable) / max(len(unanswerable), 1)
    return (1 - mix) * answered + mix * abstained


def korean_threshold(instances: list[dict], probabilities: np.ndarray, right: list[bool]) -> float:
    """The answerability, for Korean questions, that maximises the mean of two shares of questions
    handled right (answered with a right sentence, or abstained when not answerable): over
    KorQuAD's answerable development questions and near misses, mixed as ``unanswerable_share``
    says, and over the Korean seed development questions. Ties go to the lower threshold."""
    korquad = [k for k, i in enumerate(instances) if i["kind"] in ("answerable", "near miss")]
    seeds = [
        k for k, i in enumerate(instances) if i["kind"] == "seed" and i["analysis"].language == "ko"
    ]
    parts = [
        _handled_right(
            [instances[k] for k in ks], [probabilities[k] for k in ks], [right[k] for k in ks]
        )
        for ks in (korquad, seeds)
    ]
    mix = unanswerable_share(instances)
    grid = np.unique([0.0, *(_at_most(p) for part in parts for g in part for p in g if p)])
    value = [(_accuracy(*parts[0], mix, t) + _accuracy(*parts[1], mix, t)) / 2 for t in grid]
    return float(grid[int(np.argmax(value))])


def span_rows(instances: list[dict], model: Model):
    """(rows, labels, groups, (phrase, truths, whether it ``can_answer``)) of the phrases of
    each answerable question's best sentence when that sentence is right."""
    rows, labels, groups, golds = [], [], [], []
    for g, inst in enumerate(instances):
        best, truths = _scored(inst, model), _gold_span(inst["gold"])
        if best is None or not truths or not inst["analysis"].asks_span:
            continue
        if not inst["labels"][inst["candidates"].index(best)]:
            continue
        for phrase, feats in span_candidates(inst["analysis"], best):
            rows.append(feats)
            labels.append(any(exact_match(phrase.text, t) for t in truths))
            groups.append(g)
            golds.append((phrase.text, truths, can_answer(inst["analysis"], phrase)))
    return rows, labels, groups, golds


def _article(inst: dict) -> str:
    """The article an answerable instance's gold answer is in (KorQuAD's paragraph files are
    named by article: kq060_03.txt), or its seed article."""
    gold = inst["gold"]
    return gold["source"].split("_")[0] if "source" in gold else gold["sources"][0]


def _held_out(
    rows: list[dict], labels: list[bool], groups: list[int], articles: list[str], folds: int = 5
) -> np.ndarray:
    """Each phrase's probability (softmax over its sentence's phrases) from a span model fitted
    without its article's fold, so the threshold is chosen on answers it was not fitted to: trees
    remember a paragraph's sentences, and its other questions would otherwise vouch for them."""
    out = np.zeros(len(rows))
    number = {a: n for n, a in enumerate(sorted(set(articles)))}
    fold = np.array([number[a] % folds for a in articles])
    for k in range(folds):
        train = [i for i in range(len(rows)) if fold[i] != k]
        model = fit_trees([rows[i] for i in train], [labels[i] for i in train], SPAN_FEATURES)
        test = np.flatnonzero(fold == k)
        scores = model.scores([rows[i] for i in test])
        for g in {groups[i] for i in test}:
            mine = np.array([n for n, i in enumerate(test) if groups[i] == g])
            e = np.exp(scores[mine] - scores[mine].max())
            out[test[mine]] = e / e.sum()
    return out


def short_threshold(probabilities, groups, golds) -> float:
    """The lowest span probability at which the shown short answers (each question's most
    probable phrase of those that ``can_answer``) keep ``SHORT_EM`` exact match on dev (held-out
    probabilities)."""
    best: dict[int, tuple[float, bool]] = {}
    for p, g, (text, truths, able) in zip(probabilities, groups, golds):
        if able and (g not in best or p > best[g][0]):
            best[g] = (float(p), any(exact_match(text, t) for t in truths))
    cut, hits = 1.0, 0
    for n, (p, hit) in enumerate(sorted(best.values(), reverse=True), 1):
        hits += hit
        if hits / n >= SHORT_EM:
            cut = p
    return _at_most(cut)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _weight(inst: dict) -> float:
    """News is what the product reads: a seed question counts ``SEED_WEIGHT`` KorQuAD ones."""
    return SEED_WEIGHT if inst["kind"] == "seed" else 1.0


def ranked_instances(data: list[dict]) -> list[dict]:
    """The instances the sentence scorer learns from: answerable, with a right candidate."""
    return [i for i in data if i["gold"] and any(i["labels"])]


def fit_sentence(ranked: list[dict]) -> Linear:
    """The sentence scorer, listwise over each ranked instance's candidates."""
    groups = [([c.features for c in i["candidates"]], i["labels"]) for i in ranked]
    return fit_listwise(groups, SENTENCE_FEATURES, [_weight(i) for i in ranked])


def sentence_only(sentence: Linear) -> Model:
    """A reader with only its sentence scorer fitted: what the answerability and span models
    learn from."""
    n = len(QUESTION_FEATURES)
    placeholder = Linear(QUESTION_FEATURES, (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0)
    return Model(sentence, placeholder, placeholder, 0.5, 0.5, SECOND_RATIO, 1.0, {})


def fit_models(data: list[dict], log=_log) -> dict:
    """The three models and thresholds from featurised development instances."""
    ranked = ranked_instances(data)
    candidates = sum(len(i["candidates"]) for i in ranked)
    log(f"Fitting the sentence scorer on {candidates} candidates of {len(ranked)} questions …")
    sentence = fit_sentence(ranked)
    model = sentence_only(sentence)
    q_rows, q_labels = answerable_rows(data, model)
    log(f"Fitting the answerability model on {len(q_rows)} questions …")
    answerable = fit_logistic(q_rows, q_labels, QUESTION_FEATURES, [_weight(i) for i in data])
    probabilities = answerable.probabilities(q_rows)
    threshold = korean_threshold(data, probabilities, q_labels)
    threshold_english = english_threshold(data, probabilities)
    s_rows, s_labels, s_groups, golds = span_rows(data, model)
    log(f"Fitting the span model on {len(s_rows)} phrases of {len(set(s_groups))} answers …")
    span = fit_trees(s_rows, s_labels, SPAN_FEATURES)
    articles = [_article(data[g]) for g in s_groups]
    short = short_threshold(_held_out(s_rows, s_labels, s_groups, articles), s_groups, golds)
    kinds = {
        k: sum(i["kind"] == k for i in data)
        for k in ("answerable", "near miss", "swapped name", "seed")
    }
    as_dict = lambda m: {k: list(v) if isinstance(v, tuple) else v for k, v in m.__dict__.items()}  # noqa: E731
    return {
        "sentence": as_dict(sentence),
        "answerable": as_dict(answerable),
        "span": span.as_dict(),
        "answer_threshold": threshold,
        "answer_threshold_cross_lingual": threshold_english,
        "second_ratio": SECOND_RATIO,
        "short_threshold": short,
        "fitted_on": {
            "korquad": _sha(KORQUAD_FILE),
            "korquad_articles": "0-69",
            "instances": kinds,
            "candidates": candidates,
            "phrases": len(s_rows),
            "wrongful_abstention_english": WRONGFUL,
            "unanswerable_share": round(unanswerable_share(data), 4),
            "short_em": SHORT_EM,
            "C": C,
        },
    }


def fit(settings: Settings, out: Path = MODEL_FILE, cache: Path | None = None, log=_log) -> dict:
    """Fit the reader on development data and write ``out``; returns what was written."""
    written = fit_models(instances(settings, cache, log), log)
    Path(out).write_text(json.dumps(written, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    log(
        f"Wrote {out}: answer threshold {written['answer_threshold']}, short threshold "
        f"{written['short_threshold']}"
    )
    return written
