"""KorQuAD 1.0 dev (``rag/data/korquad/``, unchanged): its paragraphs as article files, its
questions with their gold paragraph, and the split every figure respects: fit and tune on
articles 0–69 (file order), report on articles 70–139.

A *near-miss* corpus leaves some paragraphs out of the index while their article's other
paragraphs stay in: the left-out paragraphs' questions are then unanswerable, though the index
holds text on the very same topic. That is what abstention has to get right.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

KORQUAD_FILE = Path(__file__).resolve().parents[1] / "data" / "korquad" / "KorQuAD_v1.0_dev.json"
DEV_ARTICLES = range(0, 70)
TEST_ARTICLES = range(70, 140)
SPLITS = {"dev": DEV_ARTICLES, "test": TEST_ARTICLES}


def korquad_questions(path: Path = KORQUAD_FILE, articles: int | None = None, first: int = 0):
    """(paragraph files, questions, number of articles): files as (name, title, text) of the
    ``articles`` articles from ``first`` (all of them when None); questions with their gold
    file, article number, answer and the answer's character offset in its paragraph."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    chosen = data[first : None if articles is None else first + articles]
    files, questions = [], []
    for a, article in enumerate(chosen, first):
        for p, para in enumerate(article["paragraphs"]):
            name = f"kq{a:03d}_{p:02d}.txt"
            files.append((name, article["title"], para["context"]))
            for qa in para["qas"]:
                answer = qa["answers"][0]
                questions.append(
                    {
                        "id": qa["id"],
                        "question": qa["question"],
                        "answer": answer["text"],
                        "answer_start": answer["answer_start"],
                        "gold": name,
                        "article": a,
                    }
                )
    return files, questions, len(chosen)


def write_corpus(files, folder: Path) -> None:
    """Each paragraph as an article file, titled by its Wikipedia article, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {}
    for name, title, text in files:
        (folder / name).write_text(text, encoding="utf-8")
        meta[name] = {"title": title, "published": "", "outlet": "KorQuAD 1.0"}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


@dataclass
class NearMiss:
    """A KorQuAD selection with some paragraphs left out of its corpus."""

    files: list  # the paragraphs indexed
    left_out: set[str]  # file names of the paragraphs left out
    questions: list[dict]  # each with "answerable": False when its paragraph was left out, and
    # "answer_elsewhere": True when its gold answer is still in its article's indexed paragraphs


def near_miss(
    split: str,
    share: float = 0.1,
    seed: int = 0,
    articles: int | None = None,
    path: Path = KORQUAD_FILE,
) -> NearMiss:
    """The articles of ``split`` ('dev' or 'test'; only the first ``articles`` of it when given)
    with ``share`` of their paragraphs left out, never an article's only paragraph, so that every
    left-out paragraph's article still has text in the index."""
    from .metrics import normalise  # it imports the answering package: not at import time

    span = SPLITS[split]
    files, questions, _ = korquad_questions(path, articles or len(span), span.start)
    rng = random.Random(seed)
    by_article: dict[str, list[str]] = {}
    for name, _, _ in files:
        by_article.setdefault(name[:5], []).append(name)
    candidates = [n for names in by_article.values() if len(names) > 1 for n in names]
    left_out = set(rng.sample(candidates, round(share * len(files))))
    kept = [f for f in files if f[0] not in left_out]
    # Wikipedia repeats its facts ("2004년 서울시장 재직시절 대중교통체계를 전면적으로
    # 개선하였다" in an article's summary and in its body): a left-out question whose gold answer
    # is in a kept paragraph of its article (matched as the benchmark matches answers) may well be
    # answered from the index, so it is no clean near miss. The answer's text may also stand
    # there for another fact, so these questions are set apart, not counted as answerable.
    said: dict[str, list[str]] = {}
    for name, _, text in kept:
        said.setdefault(name[:5], []).append(normalise(text))
    for q in questions:
        q["answerable"], q["answer_elsewhere"] = q["gold"] not in left_out, False
        if not q["answerable"]:
            answer = normalise(q["answer"])
            q["answer_elsewhere"] = any(answer in text for text in said.get(q["gold"][:5], ()))
    return NearMiss(kept, left_out, questions)
