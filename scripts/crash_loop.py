"""Kill `rag ingest` with SIGKILL at random moments, many times, and check the index each time.

    python scripts/crash_loop.py [--iterations 30] [--seed 1] [--json]

Each round changes the corpus (adds, edits and deletes a few articles), starts an ingest
as a real subprocess and kills it after a random delay drawn over the whole length of such
an ingest (start-up, embedding, writing, the swap, and sometimes just after it finished).
After every kill the index must load and hold
exactly the articles of the state before the round or of the state after it, never a
mix; then the next ingest must finish the work. Prints what happened and a summary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KORQUAD = ROOT / "rag" / "data" / "korquad" / "KorQuAD_v1.0_dev.json"


def _paragraphs(n: int) -> list[str]:
    if KORQUAD.is_file():
        data = json.loads(KORQUAD.read_text(encoding="utf-8"))["data"]
        return [p["context"] for a in data for p in a["paragraphs"]][:n]
    seeds = [
        p.read_text(encoding="utf-8")
        for p in sorted((ROOT / "rag" / "data" / "seeds").glob("*.txt"))
    ]
    return [f"{s}\n(사본 {i})" for i, s in enumerate(seeds * (n // len(seeds) + 1))][:n]


def _state(corpus: Path) -> dict[str, str]:
    """file name → content hash of the corpus as it is on disk."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(corpus.glob("*.txt"))
    }


def _indexed(index_dir: Path) -> dict[str, str] | None:
    """file name → hash of the raw text the index holds (None if it does not load)."""
    from rag.indexing import expected_manifest
    from rag.settings import load_settings
    from rag.stores.faiss import load_generation

    settings = load_settings({"index_dir": str(index_dir)})
    index = load_generation(index_dir, expected_manifest(settings))
    assert index.vectors.index.ntotal == len(index.chunks) == len(index.tokens)
    assert {c.article_key for c in index.chunks} <= set(index.articles)
    return {Path(k).name: a.content_hash for k, a in index.articles.items()}


def _mutate(corpus: Path, pool: list[str], rng: random.Random) -> None:
    files = sorted(corpus.glob("*.txt"))
    for p in rng.sample(files, min(2, len(files))):
        p.write_text(
            p.read_text(encoding="utf-8") + f"\n추가 문단 {rng.random():.6f}.", encoding="utf-8"
        )
    if files and rng.random() < 0.5:
        rng.choice(files).unlink()
    for _ in range(rng.randint(1, 4)):
        (corpus / f"new{rng.randrange(10**6):06d}.txt").write_text(
            rng.choice(pool), encoding="utf-8"
        )


def run(iterations: int, seed: int = 1, work: Path | None = None, log=print) -> dict:
    from rag.articles import read_article

    rng = random.Random(seed)
    work = Path(work or tempfile.mkdtemp(prefix="rag-crash-"))
    corpus, index_dir = work / "corpus", work / "index"
    corpus.mkdir(parents=True, exist_ok=True)
    pool = _paragraphs(300)
    for i, text in enumerate(pool[:40]):
        (corpus / f"kq{i:03d}.txt").write_text(text, encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "rag.cli",
        "ingest",
        str(corpus),
        "--index",
        str(index_dir),
        "--quiet",
    ]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)

    def expected(state_dir: Path) -> dict[str, str]:
        return {p.name: read_article(p).content_hash for p in sorted(state_dir.glob("*.txt"))}

    stats = {
        "iterations": 0,
        "as_before": 0,
        "as_after": 0,
        "mixed_or_unloadable": 0,
        "kill_after_s": [],
        "full_ingest_s": [],
    }
    before = expected(corpus)
    for i in range(iterations):
        _mutate(corpus, pool, rng)
        after = expected(corpus)
        # Kill anywhere in a whole ingest of this size (start-up, embedding, writing, swapping),
        # sometimes just after it finished: the span is how long the completing ingests took.
        span = 1.1 * statistics.median(stats["full_ingest_s"]) if stats["full_ingest_s"] else 12.0
        delay = rng.uniform(0.5, span)
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        try:
            now = _indexed(index_dir)
        except Exception as e:  # noqa: BLE001 - any failure to load is the failure we look for
            now = None
            log(f"round {i}: index does not load after the kill: {e}")
        verdict = (
            "as_before" if now == before else "as_after" if now == after else "mixed_or_unloadable"
        )
        stats[verdict] += 1
        stats["iterations"] += 1
        stats["kill_after_s"].append(round(delay, 1))
        log(
            f"round {i + 1}/{iterations}: killed after {delay:.1f} "
            f"s{' (had finished)' if finished else ''}: {verdict}"
        )
        if verdict == "as_before":  # the next ingest must complete the interrupted work
            started = time.time()
            subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
            stats["full_ingest_s"].append(round(time.time() - started, 1))
            if _indexed(index_dir) != after:
                stats["mixed_or_unloadable"] += 1
                log(f"round {i + 1}: the next ingest did not complete the work")
        before = after
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)  # a last, uninterrupted ingest
    stats["final_ingest_complete"] = _indexed(index_dir) == expected(corpus)
    stats["temp_dirs_left"] = [p.name for p in index_dir.iterdir() if ".tmp" in p.name]
    shutil.rmtree(work, ignore_errors=True)
    return stats


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args()
    stats = run(args.iterations, args.seed, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(
        json.dumps(stats)
        if args.json
        else f"{stats['iterations']} kills: {stats['as_before']} left the index as before, "
        f"{stats['as_after']} as after, "
        f"{stats['mixed_or_unloadable']} mixed or unloadable"
    )
    return (
        1
        if stats["mixed_or_unloadable"]
        or not stats["final_ingest_complete"]
        or stats["temp_dirs_left"]
        else 0
    )


if __name__ == "__main__":
    sys.exit(main())
