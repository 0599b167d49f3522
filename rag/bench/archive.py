"""A news archive at scale (`rag bench perf --archive 20000`): ingest, a kill, the resume.

N articles are written as files and ingested by `rag ingest` run as a subprocess, which is
SIGKILLed once, halfway through its batches (``ingest_batch`` articles each), then run again
to the end. The figures: each run's time and peak memory (RSS sampled every half second),
memory after each written batch, whether the second run went on from the batches the first
wrote (those articles reported unchanged, none embedded again), an unchanged re-ingest, and a
cold `rag ask` on the result.

No archive of 20,000 Korean news articles is on these machines, so the articles are KorQuAD 1.0
dev's sentences recombined: 8-16 sentences each, in paragraphs of 3, published on a day of
2020-2026, and one word of every sentence swapped for a word of another sentence, so that no
chunk or sentence repeats and the model embeds as much as a real archive of that size needs.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from ..chunking import split_sentences
from ..eval.korquad import korquad_questions
from ..scratch import scratch_dir
from ..settings import Settings
from .webload import rss_mb


def archive_corpus(korquad: Path, articles: int, folder: Path, seed: int = 0) -> int:
    """Write ``articles`` recombined articles and their metadata.json into ``folder``; returns
    their characters."""
    files, _, _ = korquad_questions(korquad)
    sentences = [s.text for _, _, text in files for s in split_sentences(text)]
    words = [w for s in sentences for w in s.split()]
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    meta, chars = {}, 0
    for n in range(articles):
        picked = []
        for i in rng.choice(len(sentences), int(rng.integers(8, 17)), replace=False):
            parts = sentences[i].split()
            parts[int(rng.integers(len(parts)))] = words[int(rng.integers(len(words)))]
            picked.append(" ".join(parts))
        text = "\n\n".join(" ".join(picked[i : i + 3]) for i in range(0, len(picked), 3))
        name = f"news{n:06d}.txt"
        (folder / name).write_text(text, encoding="utf-8")
        day = date(2020, 1, 1) + timedelta(days=int(rng.integers(0, 2555)))
        meta[name] = {"title": picked[0][:40], "published": day.isoformat(), "outlet": "KorQuAD"}
        chars += len(text)
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return chars


def _rag(*args: str, env: dict | None = None) -> subprocess.Popen:
    import os

    root = str(Path(__file__).resolve().parents[2])
    return subprocess.Popen(
        [sys.executable, "-m", "rag.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": root, **(env or {})},
    )


def watched_ingest(args: list[str], batch: int, kill_at: int, log) -> dict:
    """Run `rag ingest ARGS` with ``batch`` articles per write; SIGKILL it when batch
    ``kill_at`` begins (0: never). Its time, peak RSS, RSS as each batch began, and summary."""
    started = time.time()
    proc = _rag("ingest", *args, env={"RAG_INGEST_BATCH": str(batch)})
    peak, at_batch, killed = [0.0], [], False

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], rss_mb(proc.pid))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for line in proc.stderr:
        if m := re.match(r"Batch (\d+) of (\d+)", line):
            at_batch.append(round(rss_mb(proc.pid)))
            log(f"  {line.strip()} ({time.time() - started:.0f} s, RSS {at_batch[-1]} MB)")
            if int(m.group(1)) == kill_at:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
    out = proc.communicate()[0]
    sampler.join()
    summary = re.search(r"new (\d+), changed \d+, unchanged (\d+)", out or "")
    return {
        "seconds": round(time.time() - started, 1),
        "peak_rss_mb": round(peak[0]),
        "rss_mb_as_batches_began": at_batch,
        "killed": killed,
        "exit": proc.returncode,
        "new": int(summary.group(1)) if summary else None,
        "unchanged": int(summary.group(2)) if summary else None,
        "chunks": int(m.group(1)) if (m := re.search(r"in (\d+) chunks", out or "")) else None,
        "embedded": out.strip().splitlines()[1].strip() if out and "\n" in out.strip() else "",
    }


def archive_ingest(settings: Settings, korquad: Path, articles: int, log) -> dict:
    """The whole run; see the module's docstring."""
    from ..stores.faiss import load_generation

    work = scratch_dir("rag-archive-")
    corpus, index = work / "corpus", work / "index"
    log(f"Writing {articles:,} articles …")
    chars = archive_corpus(korquad, articles, corpus)
    batch = max(1, settings.ingest_batch)
    batches = -(-articles // batch)
    kill_at = batches // 2 + 1 if batches > 1 else 0
    args = [str(corpus), "--index", str(index)]
    log(f"Ingesting in {batches} batches of {batch:,}, killed as batch {kill_at} begins …")
    first = watched_ingest(args, batch, kill_at, log)
    kept = len(load_generation(index).articles) if kill_at else 0
    log(f"Killed with {kept:,} articles written; ingesting again …")
    second = watched_ingest(args, batch, 0, log)
    log("Unchanged re-ingest, then a cold `rag ask` …")
    again = watched_ingest(args, batch, 0, log)
    asked = time.time()
    ask = _rag("ask", "고려 시대의 수도는 어디인가?", "--index", str(index), "--json")
    answer = json.loads(ask.communicate()[0] or "{}")
    return {
        "articles": articles,
        "characters": chars,
        "batch": batch,
        "batches": batches,
        "killed_run": first,
        "articles_kept_by_the_kill": kept,
        "resumed_run": second,
        "resumed_where_it_stopped": second["unchanged"] == kept
        and second["new"] == articles - kept,
        "index_mb": round(sum(f.stat().st_size for f in index.rglob("*") if f.is_file()) / 1e6),
        "unchanged_reingest_seconds": again["seconds"],
        "cold_ask_seconds": round(time.time() - asked, 2),
        "cold_ask_abstained": answer.get("abstained"),
    }


def format_archive(g: dict) -> str:
    k, r = g["killed_run"], g["resumed_run"]
    return (
        f"Archive ingest: {g['articles']:,} articles ({g['characters'] / 1e6:.1f} M characters) in "
        f"{g['batches']} batches of {g['batch']:,}\n"
        f"  killed as batch {len(k['rss_mb_as_batches_began'])} began, after {k['seconds']} s "
        f"(peak RSS {k['peak_rss_mb']} MB): {g['articles_kept_by_the_kill']:,} articles kept\n"
        f"  resumed: {r['unchanged']:,} unchanged, {r['new']:,} new, {r['chunks']:,} chunks in "
        f"{r['seconds']} s (peak RSS {r['peak_rss_mb']} MB; {r['embedded']}); went on where it "
        f"stopped: {'yes' if g['resumed_where_it_stopped'] else 'NO'}\n"
        f"  RSS after each written batch: "
        f"{k['rss_mb_as_batches_began'][1:] + r['rss_mb_as_batches_began'][1:]} MB (killed run, "
        f"then resumed run)\n"
        f"  index {g['index_mb']:,} MB; unchanged re-ingest {g['unchanged_reingest_seconds']} s; "
        f"cold `rag ask` {g['cold_ask_seconds']} s"
    )
