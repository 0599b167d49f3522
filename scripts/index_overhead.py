"""What the index itself costs an ingest on a large archive, without the model's time.

    python scripts/index_overhead.py [ARTICLES] [FOLDER]      (default 20000, /tmp/index-overhead)

Writes ARTICLES recombined KorQuAD articles (as `rag bench archive` does) and ingests them in
batches of 1,000 with random unit vectors in place of the embedding model, then ingests 1,000
more and prints that batch's time, the process's peak memory, the time of each step (cProfile)
and a cold load of the index. The model's share of an ingest does not depend on the index's size;
this is the rest: reading the index, merging the batch in, writing the new generation, and the
search for syndicated copies. The index is kept, so a second run measures only the last batch.
An experiment, not a product path (the model is replaced here and nowhere else).
"""

import cProfile
import pstats
import resource
import sys
import time
from pathlib import Path

import numpy as np

import rag.indexing as indexing
from rag.bench.archive import archive_corpus
from rag.settings import Settings
from rag.stores.faiss import load_generation

KORQUAD = Path(__file__).resolve().parents[1] / "rag/data/korquad/KorQuAD_v1.0_dev.json"


_RANDOM = np.random.default_rng(0)


def random_vectors(texts, settings, quiet, what):
    v = _RANDOM.standard_normal((len(texts), 384)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main(articles: int, folder: Path) -> None:
    indexing._embed = random_vectors
    settings = Settings(index_dir=folder / "index", ingest_batch=1000)
    if not (folder / "index").exists():
        archive_corpus(KORQUAD, articles, folder / "corpus")
        started = time.time()
        indexing.ingest([folder / "corpus"], settings, quiet=True)
        print(f"{articles:,} articles indexed in {time.time() - started:.0f} s", flush=True)
    extra = folder / f"extra-{int(time.time())}"
    archive_corpus(KORQUAD, 1000, extra, seed=int(time.time()))
    profile = cProfile.Profile()
    started = time.time()
    profile.enable()
    report = indexing.ingest([extra], settings, quiet=True)
    profile.disable()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"one more batch: {time.time() - started:.1f} s, peak RSS {peak:,.0f} MB")
    print(report.summary())
    pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    started = time.time()
    load_generation(folder / "index")
    print(f"cold load of the index: {time.time() - started:.2f} s")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 20_000,
        Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/index-overhead"),
    )
