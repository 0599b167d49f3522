"""Retrieval benchmark on KorQuAD 1.0 dev: dense, BM25, hybrid and a plain LangChain baseline.

    rag bench retrieval [--korquad PATH] [--articles N] [--out FILE]

Every paragraph becomes one article file, indexed with the project's own ingestion; every
question is asked. A hit is a passage from the question's own paragraph file. Fusion
weights are tuned on the questions of the first half of the articles and reported on
the other half, so the figures are not fitted to themselves.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .settings import Settings

DEFAULT_KORQUAD = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "korquad" / "KorQuAD_v1.0_dev.json"


def korquad_questions(path: Path, articles: int | None = None):
    """(paragraph files, questions): files as (name, title, text); questions with gold file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"][:articles]
    files, questions = [], []
    for a, article in enumerate(data):
        for p, para in enumerate(article["paragraphs"]):
            name = f"kq{a:03d}_{p:02d}.txt"
            files.append((name, article["title"], para["context"]))
            for qa in para["qas"]:
                questions.append({"question": qa["question"], "answer": qa["answers"][0]["text"],
                                  "gold": name, "article": a})
    return files, questions, len(data)


def write_corpus(files, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    meta = {}
    for name, title, text in files:
        (folder / name).write_text(text, encoding="utf-8")
        meta[name] = {"title": title, "published": "", "outlet": "KorQuAD 1.0"}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def _metrics(ranked_sources: list[list[str]], ranked_texts: list[list[str]], questions) -> dict:
    """Gold paragraph at rank 1 / top 5 / top 20, answer string in top-1 / top-5 text, MRR."""
    n = len(questions)
    if not n:
        return {}
    r1 = r5 = r20 = a1 = a5 = 0
    mrr = 0.0
    for sources, texts, q in zip(ranked_sources, ranked_texts, questions):
        rank = next((i + 1 for i, s in enumerate(sources) if s == q["gold"]), None)
        if rank:
            r1 += rank == 1
            r5 += rank <= 5
            r20 += rank <= 20
            mrr += 1 / rank
        a1 += any(q["answer"] in t for t in texts[:1])
        a5 += any(q["answer"] in t for t in texts[:5])
    pct = lambda x: round(100 * x / n, 1)  # noqa: E731
    top5 = [len(t) for texts in ranked_texts for t in texts[:5]]
    return {"questions": n, "gold@1": pct(r1), "gold@5": pct(r5), "gold@20": pct(r20),
            "answer@1": pct(a1), "answer@5": pct(a5), "mrr": round(mrr / n, 4),
            "passage_chars": round(statistics.mean(top5)) if top5 else 0}


def latency(ms: list[float]) -> dict:
    """p50 and p95 of millisecond timings."""
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1)} if ms else {}


def _dedupe_by_source(rows, k: int):
    """(source, item) pairs in rank order → the first k sources and the item of each one's best rank."""
    seen, sources, texts = set(), [], []
    for source, text in rows:
        if source not in seen:
            seen.add(source)
            sources.append(source)
            texts.append(text)
        if len(sources) == k:
            break
    return sources, texts


def run_retrieval(settings: Settings, korquad: Path, articles: int | None = None, baseline: bool = True,
                  log=lambda *a: print(*a, file=sys.stderr, flush=True)) -> dict:
    from .embeddings import get_embedder
    from .keyword import keyword_tokens
    from .pipeline import ingest, open_index
    from .retrieve import context_window, fuse, search

    files, questions, n_articles = korquad_questions(korquad, articles)
    half = n_articles // 2
    tune = [q for q in questions if q["article"] < half]
    test = [q for q in questions if q["article"] >= half]
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    write_corpus(files, work / "corpus")
    settings = replace(settings, index_dir=work / "index")
    log(f"Indexing {len(files)} KorQuAD paragraphs …")
    t = time.time()
    report = ingest([work / "corpus"], settings, quiet=True)
    ingest_s = time.time() - t
    index = open_index(settings)
    embedder = get_embedder(settings)
    sources = np.array([index.articles[c.article_key].source for c in index.chunks])
    all_vectors = index.vectors.vectors()

    # One pass per question: dense scores and BM25 scores of every chunk (exact, small corpus).
    log(f"Scoring {len(questions)} questions …")
    dense_ms, kw_ms = [], []
    for q in questions:
        t = time.perf_counter()
        qv = embedder.embed_query(q["question"])
        index.vectors.search(qv, settings.candidates)
        dense_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        kw = index.keywords.scores(keyword_tokens([q["question"]])[0])
        kw_ms.append((time.perf_counter() - t) * 1000)
        q["dense"], q["bm25"] = all_vectors @ qv, kw

    def window_text(row):
        start, end = context_window(*index.neighbours(int(row)), settings.context_tokens)
        return index.articles[index.chunks[row].article_key].text[start:end]

    def ranked(qs, scorer):
        """Paragraph files in rank order, each with the passage the product returns for its best chunk."""
        out_s, out_t = [], []
        for q in qs:
            order = scorer(q["dense"], q["bm25"])
            s, rows = _dedupe_by_source(((sources[r], r) for r in order), 20)
            tx = [window_text(r) for r in rows]
            out_s.append(s)
            out_t.append(tx)
        return out_s, out_t

    def hybrid_scorer(dw, kwt, depth):
        def score(dense, kw):
            top_kw = np.argsort(-kw)[:depth]
            pool = np.union1d(np.argsort(-dense)[:depth], top_kw[kw[top_kw] > 0])
            fused = fuse(dense[pool], kw[pool], dw, kwt)
            return pool[np.argsort(-fused)]
        return score

    def rrf_scorer(dense, kw, k=60):
        d_rank = np.argsort(np.argsort(-dense))
        k_rank = np.argsort(np.argsort(-kw))
        return np.argsort(-(1 / (k + d_rank) + 1 / (k + k_rank)))

    # Tune the dense weight and candidate depth on the first half of the articles.
    grid = []
    for depth in (20, 40, 80):
        for dw in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            m = _metrics(*ranked(tune, hybrid_scorer(dw, 1 - dw, depth)), tune)
            grid.append({"dense_weight": dw, "candidates": depth, **m})
    best = max(grid, key=lambda g: (g["answer@1"] + g["gold@1"], g["mrr"]))
    log(f"Tuned on {len(tune)} questions: dense_weight={best['dense_weight']} candidates={best['candidates']}")

    results = {
        "dense": _metrics(*ranked(test, lambda d, k: np.argsort(-d)), test),
        "bm25": _metrics(*ranked(test, lambda d, k: np.argsort(-k)), test),
        "rrf_k60": _metrics(*ranked(test, rrf_scorer), test),
        "hybrid": _metrics(*ranked(test, hybrid_scorer(best["dense_weight"], 1 - best["dense_weight"],
                                                        best["candidates"])), test),
    }
    results["dense"].update(latency(dense_ms))
    results["bm25"].update(latency(kw_ms))

    # The real search path (fusion + MMR) with the tuned weights, timed end to end.
    tuned = replace(settings, dense_weight=best["dense_weight"], keyword_weight=1 - best["dense_weight"],
                    candidates=best["candidates"])
    log("Timing the real hybrid search path …")
    path_s, path_t, path_ms = [], [], []
    for q in test:
        t = time.perf_counter()
        hits = search(index, embedder, q["question"], tuned, k=20)
        path_ms.append((time.perf_counter() - t) * 1000)
        s, tx = _dedupe_by_source(((h.source, h.text) for h in hits), 20)
        path_s.append(s)
        path_t.append(tx)
    results["hybrid_search_path"] = {**_metrics(path_s, path_t, test), **latency(path_ms)}

    if baseline:
        log("LangChain baseline (RecursiveCharacterTextSplitter 1000/200 + FAISS.from_documents) …")
        results["langchain_baseline"] = _langchain_baseline(files, test, embedder)
    return {"korquad": str(korquad), "articles": n_articles, "paragraphs": len(files), "chunks": len(index.chunks),
            "tune_questions": len(tune), "test_questions": len(test), "ingest_seconds": round(ingest_s, 1),
            "chunks_embedded": report.chunks_embedded, "tuning": {"best": best, "grid": grid}, "results": results}


def _langchain_baseline(files, test, embedder) -> dict:
    """The tutorial pipeline: character splitter, same embedding model, FAISS, similarity_search."""
    import warnings

    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.vectorstores import FAISS

    from .adapters import EmbedderEmbeddings

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    docs = splitter.split_documents([Document(page_content=text, metadata={"source": name}) for name, _, text in files])
    t = time.time()
    store = FAISS.from_documents(docs, EmbedderEmbeddings(embedder))
    build_s = time.time() - t
    sources, texts, ms = [], [], []
    for q in test:
        t = time.perf_counter()
        hits = store.similarity_search(q["question"], k=20)
        ms.append((time.perf_counter() - t) * 1000)
        s, tx = _dedupe_by_source(((h.metadata["source"], h.page_content) for h in hits), 20)
        sources.append(s)
        texts.append(tx)
    return {**_metrics(sources, texts, test), **latency(ms), "chunks": len(docs), "build_seconds": round(build_s, 1)}


def format_table(result: dict) -> str:
    cols = ["gold@1", "gold@5", "gold@20", "answer@1", "answer@5", "mrr", "passage_chars", "p50_ms", "p95_ms"]
    lines = [f"KorQuAD 1.0 dev: {result['paragraphs']} paragraphs ({result['chunks']} chunks); "
             f"tuned on {result['tune_questions']} questions, reported on {result['test_questions']}",
             "| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, m in result["results"].items():
        lines.append(f"| {name} | " + " | ".join(str(m.get(c, "")) for c in cols) + " |")
    best = result["tuning"]["best"]
    lines.append(f"tuned: dense_weight={best['dense_weight']}, keyword_weight={round(1 - best['dense_weight'], 2)}, "
                 f"candidates={best['candidates']}; ingest {result['ingest_seconds']} s")
    return "\n".join(lines)


def run_stores(settings: Settings, korquad: Path, articles: int | None = None, questions: int = 1000,
               stores: tuple[str, ...] = ("pgvector", "milvus"), urls: dict | None = None,
               log=lambda *a: print(*a, file=sys.stderr, flush=True)) -> dict:
    """The same KorQuAD corpus ingested and searched on FAISS and on each server store (started
    locally unless ``urls`` names one): hybrid answer@1/@5 with the default settings, ingest time,
    migration time from FAISS (no embedding), search and ask latency."""
    import contextlib
    import random

    from . import servers
    from .embeddings import get_embedder
    from .pipeline import ask, ingest, migrate, search

    files, qs, n_articles = korquad_questions(korquad, articles)
    if questions and len(qs) > questions:
        qs = random.Random(0).sample(qs, questions)
    work = Path(tempfile.mkdtemp(prefix="rag-bench-stores-"))
    write_corpus(files, work / "corpus")
    embedder = get_embedder(settings)
    out = {"korquad": str(korquad), "articles": n_articles, "paragraphs": len(files), "questions": len(qs), "stores": {}}
    with contextlib.ExitStack() as stack:
        targets = {"faiss": replace(settings, store="faiss", index_dir=work / "faiss")}
        for name in stores:
            url = (urls or {}).get(name) or stack.enter_context(
                servers.postgres(work / "pg") if name == "pgvector" else servers.milvus(work / "milvus"))
            targets[name] = replace(settings, store=name, store_url=url, store_collection="bench_korquad")
        for name, target in targets.items():
            log(f"{name}: ingesting {len(files)} paragraphs …")
            t = time.time()
            report = ingest([work / "corpus"], target, rebuild=True, quiet=True)
            row = {"ingest_s": round(time.time() - t, 1), "chunks": report.chunks}
            if name != "faiss":
                t = time.time()
                migrate(targets["faiss"], replace(target, store_collection="bench_migrated"))
                row["migrate_from_faiss_s"] = round(time.time() - t, 1)
            t = time.time()
            ingest([work / "corpus"], target, quiet=True)
            row["reingest_unchanged_s"] = round(time.time() - t, 1)
            log(f"{name}: {len(qs)} questions …")
            embedder.forget_queries()  # each store pays for its own query vectors
            sources, texts, ms = [], [], []
            for i, q in enumerate(qs, 1):
                t = time.perf_counter()
                hits = search(q["question"], target, k=20)
                ms.append((time.perf_counter() - t) * 1000)
                if i % 100 == 0:
                    log(f"  {i} questions, search p50 {latency(ms)['p50_ms']} ms")
                s, tx = _dedupe_by_source(((h.source, h.text) for h in hits), 20)
                sources.append(s)
                texts.append(tx)
            row.update(_metrics(sources, texts, qs), search=latency(ms))
            ask_ms = []
            for q in qs[:max(10, min(100, len(qs) // 10))]:
                t = time.perf_counter()
                ask(q["question"], target)
                ask_ms.append((time.perf_counter() - t) * 1000)
            row["ask"] = latency(ask_ms)
            out["stores"][name] = row
            log(f"{name}: {json.dumps(row)}")
    return out


def format_stores(result: dict) -> str:
    cols = ["answer@1", "answer@5", "gold@1", "gold@5", "mrr"]
    lines = [f"KorQuAD 1.0 dev: {result['paragraphs']} paragraphs, {result['questions']} questions, hybrid search (default settings)",
             "| store | " + " | ".join(cols) + " | search p50/p95 ms | ask p50/p95 ms | ingest s | migrate s | re-ingest s |",
             "|---" * (len(cols) + 6) + "|"]
    for name, m in result["stores"].items():
        lines.append(f"| {name} | " + " | ".join(str(m.get(c, "")) for c in cols)
                     + f" | {m['search'].get('p50_ms')} / {m['search'].get('p95_ms')} | {m['ask'].get('p50_ms')} / "
                     f"{m['ask'].get('p95_ms')} | {m['ingest_s']} | {m.get('migrate_from_faiss_s', '')} | {m['reingest_unchanged_s']} |")
    return "\n".join(lines)
