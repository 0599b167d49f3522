"""KorQuAD 1.0 dev (``rag/data/korquad/``, unchanged): its paragraphs as article files, its
questions with their gold paragraph, and the split every figure respects: fit and tune on
articles 0–69 (file order), report on articles 70–139."""

from __future__ import annotations

import json
from pathlib import Path

KORQUAD_FILE = Path(__file__).resolve().parents[1] / "data" / "korquad" / "KorQuAD_v1.0_dev.json"
DEV_ARTICLES = range(0, 70)
TEST_ARTICLES = range(70, 140)


def korquad_questions(path: Path = KORQUAD_FILE, articles: int | None = None):
    """(paragraph files, questions, number of articles): files as (name, title, text) of the
    first ``articles`` articles (all when None); questions with their gold file and article."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"][:articles]
    files, questions = [], []
    for a, article in enumerate(data):
        for p, para in enumerate(article["paragraphs"]):
            name = f"kq{a:03d}_{p:02d}.txt"
            files.append((name, article["title"], para["context"]))
            for qa in para["qas"]:
                questions.append(
                    {
                        "question": qa["question"],
                        "answer": qa["answers"][0]["text"],
                        "gold": name,
                        "article": a,
                    }
                )
    return files, questions, len(data)


def write_corpus(files, folder: Path) -> None:
    """Each paragraph as an article file, titled by its Wikipedia article, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {}
    for name, title, text in files:
        (folder / name).write_text(text, encoding="utf-8")
        meta[name] = {"title": title, "published": "", "outlet": "KorQuAD 1.0"}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
