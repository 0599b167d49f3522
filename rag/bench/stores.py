"""KorQuAD on every engine: the same corpus ingested and searched on FAISS and on each server
store, with the default settings.

    rag bench stores [--stores pgvector,milvus] [--questions 1000] [--pg-url URL] [--milvus-url URL]
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

from ..answering import ask
from ..embeddings import get_embedder
from ..eval.korquad import KORQUAD_FILE, korquad_questions, write_corpus
from ..eval.metrics import latency
from ..indexing import ingest, migrate
from ..retrieve import search
from ..scratch import scratch_dir
from ..settings import Settings
from . import servers
from .retrieval import by_source, retrieval_metrics


def run_stores(
    settings: Settings,
    korquad: Path = KORQUAD_FILE,
    articles: int | None = None,
    questions: int = 1000,
    stores: dict[str, str] | None = None,
    log=lambda *a: print(*a, file=sys.stderr, flush=True),
) -> dict:
    """The same KorQuAD corpus ingested and searched on FAISS and on each server store in
    ``stores`` (name → URL; an empty URL: started locally): hybrid answer@1/@5 with the default
    settings, ingest time, migration time from FAISS (no embedding), search and ask latency."""
    stores = {"pgvector": "", "milvus": ""} if stores is None else stores
    files, qs, n_articles = korquad_questions(korquad, articles)
    if questions and len(qs) > questions:
        qs = random.Random(0).sample(qs, questions)
    work = scratch_dir("rag-bench-stores-")
    write_corpus(files, work / "corpus")
    out = {
        "korquad": str(korquad),
        "articles": n_articles,
        "paragraphs": len(files),
        "questions": len(qs),
        "stores": {},
    }
    with contextlib.ExitStack() as stack:
        targets = {"faiss": replace(settings, store="faiss", index_dir=work / "faiss")}
        for name, url in stores.items():
            local = (
                servers.postgres(work / "pg")
                if name == "pgvector"
                else servers.milvus(work / "milvus")
            )
            url = url or stack.enter_context(local)
            targets[name] = replace(
                settings, store=name, store_url=url, store_collection="bench_korquad"
            )
        for name, target in targets.items():
            row = _ingest_times(name, target, targets["faiss"], work / "corpus", log)
            row.update(_query_figures(name, target, qs, log))
            out["stores"][name] = row
            log(f"{name}: {json.dumps(row)}")
    return out


def _ingest_times(name: str, target: Settings, faiss: Settings, corpus: Path, log) -> dict:
    """Ingest, migration from the FAISS index (server stores) and unchanged re-ingest, in
    seconds."""
    log(f"{name}: ingesting {corpus} …")
    t = time.time()
    report = ingest([corpus], target, rebuild=True, quiet=True)
    row = {"ingest_s": round(time.time() - t, 1), "chunks": report.chunks}
    if name != "faiss":
        t = time.time()
        migrate(faiss, replace(target, store_collection="bench_migrated"))
        row["migrate_from_faiss_s"] = round(time.time() - t, 1)
    t = time.time()
    ingest([corpus], target, quiet=True)
    row["reingest_unchanged_s"] = round(time.time() - t, 1)
    return row


def _query_figures(name: str, target: Settings, qs: list[dict], log) -> dict:
    """Retrieval quality and search latency over every question, ask latency over a tenth."""
    log(f"{name}: {len(qs)} questions …")
    get_embedder(target).forget_queries()  # each store pays for its own query vectors
    sources, texts, ms = [], [], []
    for i, q in enumerate(qs, 1):
        t = time.perf_counter()
        hits = search(q["question"], target, k=20)
        ms.append((time.perf_counter() - t) * 1000)
        if i % 100 == 0:
            log(f"  {i} questions, search p50 {latency(ms)['p50_ms']} ms")
        s, tx = by_source(((h.source, h.text) for h in hits), 20)
        sources.append(s)
        texts.append(tx)
    ask_ms = []
    for q in qs[: max(10, min(100, len(qs) // 10))]:
        t = time.perf_counter()
        ask(q["question"], target)
        ask_ms.append((time.perf_counter() - t) * 1000)
    return {**retrieval_metrics(sources, texts, qs), "search": latency(ms), "ask": latency(ask_ms)}


def format_stores(result: dict) -> str:
    cols = ["answer@1", "answer@5", "gold@1", "gold@5", "mrr"]
    lines = [
        f"KorQuAD 1.0 dev: {result['paragraphs']} paragraphs, {result['questions']} questions, "
        "hybrid search (default settings)",
        "| store | "
        + " | ".join(cols)
        + " | search p50/p95 ms | ask p50/p95 ms | ingest s | migrate s | re-ingest s |",
        "|---" * (len(cols) + 6) + "|",
    ]
    for name, m in result["stores"].items():
        lines.append(
            f"| {name} | "
            + " | ".join(str(m.get(c, "")) for c in cols)
            + f" | {m['search'].get('p50_ms')} / {m['search'].get('p95_ms')}"
            + f" | {m['ask'].get('p50_ms')} / "
            f"{m['ask'].get('p95_ms')} | {m['ingest_s']} | {m.get('migrate_from_faiss_s', '')} | "
            f"{m['reingest_unchanged_s']} |"
        )
    return "\n".join(lines)
