"""Retrieval benchmark on KorQuAD 1.0 dev: dense, BM25, hybrid and a plain LangChain baseline.

    rag bench retrieval [--korquad PATH] [--articles N] [--out FILE]

Every paragraph becomes one article file, indexed with the project's own ingestion; every
question is asked. A hit is a passage from the question's own paragraph file. Fusion
weights are tuned on the questions of the first half of the articles (0–69 of all 140) and
reported on the other half, so the figures are not fitted to themselves. The index is read
through the ``Store`` contract only, so the benchmark runs on any engine.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..embeddings import get_embedder
from ..eval.korquad import KORQUAD_FILE, korquad_questions, write_corpus
from ..eval.metrics import latency
from ..indexing import ingest, open_index
from ..keywords import keyword_tokens
from ..retrieve import context_window, fuse, search_index
from ..scratch import scratch_dir
from ..settings import Settings


def retrieval_metrics(
    ranked_sources: list[list[str]], ranked_texts: list[list[str]], questions
) -> dict:
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
    return {
        "questions": n,
        "gold@1": pct(r1),
        "gold@5": pct(r5),
        "gold@20": pct(r20),
        "answer@1": pct(a1),
        "answer@5": pct(a5),
        "mrr": round(mrr / n, 4),
        "passage_chars": round(statistics.mean(top5)) if top5 else 0,
    }


def by_source(rows, k: int):
    """(source, item) pairs in rank order → the first k sources and the item of each one's best
    rank."""
    seen, sources, texts = set(), [], []
    for source, text in rows:
        if source not in seen:
            seen.add(source)
            sources.append(source)
            texts.append(text)
        if len(sources) == k:
            break
    return sources, texts


@dataclass
class KorquadIndex:
    """KorQuAD paragraphs written as article files and ingested into a private index."""

    settings: Settings
    files: list
    questions: list[dict]
    articles: int
    chunks_embedded: int
    seconds: float


def index_korquad(
    settings: Settings, korquad: Path = KORQUAD_FILE, articles: int | None = None, log=print
) -> KorquadIndex:
    """The first ``articles`` KorQuAD articles' paragraphs (all when None), indexed with the
    project's own ingestion into a temporary folder."""
    files, questions, n_articles = korquad_questions(korquad, articles)
    work = scratch_dir("rag-bench-")
    write_corpus(files, work / "corpus")
    settings = replace(settings, index_dir=work / "index")
    log(f"Indexing {len(files)} KorQuAD paragraphs …")
    t = time.time()
    report = ingest([work / "corpus"], settings, quiet=True)
    return KorquadIndex(
        settings, files, questions, n_articles, report.chunks_embedded, time.time() - t
    )


class ScoredChunks:
    """Every chunk of an index scored for each question (exact, small corpus), read through the
    Store contract, and the passage the product returns for each chunk (its context window)."""

    def __init__(self, index, settings: Settings):
        self.index, self.settings = index, settings
        self.rows = index.rows()
        _, self.articles, self.vectors = index.fetch(self.rows)
        self.sources = np.array([a.source for a in self.articles])
        self.position = {int(r): i for i, r in enumerate(self.rows)}
        self.windows: dict[int, str] = {}

    def score(self, questions: list[dict]) -> tuple[list[float], list[float]]:
        """Dense and BM25 scores of every chunk into each question (``dense``, ``bm25``); the
        ms of each side's candidate search."""
        embedder, depth = get_embedder(self.settings), self.settings.candidates
        dense_ms, kw_ms = [], []
        for q in questions:
            t = time.perf_counter()
            qv = embedder.embed_query(q["question"])
            self.index.dense(qv, depth, None)
            dense_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            tokens = keyword_tokens([q["question"]])[0]
            self.index.keyword(tokens, depth, None)
            kw_ms.append((time.perf_counter() - t) * 1000)
            kw = np.zeros(len(self.rows), dtype=np.float32)
            found, scores = self.index.keyword(tokens, len(self.rows), None) if tokens else ([], [])
            kw[[self.position[int(r)] for r in found]] = scores
            q["dense"], q["bm25"] = self.vectors @ qv, kw
        return dense_ms, kw_ms

    def window_text(self, i: int) -> str:
        if i not in self.windows:
            window = self.index.windows([int(self.rows[i])])[0]
            start, end = context_window(window, self.settings.context_tokens)
            self.windows[i] = self.articles[i].text[start:end]
        return self.windows[i]

    def ranked(self, questions: list[dict], scorer) -> tuple[list, list]:
        """Paragraph files in rank order, each with the passage the product returns for its best
        chunk."""
        out_s, out_t = [], []
        for q in questions:
            order = scorer(q["dense"], q["bm25"])
            s, picked = by_source(((self.sources[i], i) for i in order), 20)
            out_s.append(s)
            out_t.append([self.window_text(i) for i in picked])
        return out_s, out_t

    def metrics(self, questions: list[dict], scorer) -> dict:
        return retrieval_metrics(*self.ranked(questions, scorer), questions)


def hybrid_scorer(dense_weight: float, keyword_weight: float, depth: int):
    """The product's fusion over the top ``depth`` of each side."""

    def score(dense, kw):
        top_kw = np.argsort(-kw)[:depth]
        pool = np.union1d(np.argsort(-dense)[:depth], top_kw[kw[top_kw] > 0])
        fused = fuse(dense[pool], kw[pool], dense_weight, keyword_weight)
        return pool[np.argsort(-fused)]

    return score


def rrf_scorer(dense, kw, k=60):
    """Plain reciprocal-rank fusion over every chunk."""
    d_rank = np.argsort(np.argsort(-dense))
    k_rank = np.argsort(np.argsort(-kw))
    return np.argsort(-(1 / (k + d_rank) + 1 / (k + k_rank)))


def _tune(scored: ScoredChunks, tune: list[dict]) -> tuple[dict, list[dict]]:
    """The dense weight and candidate depth best on the tuning questions."""
    grid = []
    for depth in (20, 40, 80):
        for dw in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            m = scored.metrics(tune, hybrid_scorer(dw, 1 - dw, depth))
            grid.append({"dense_weight": dw, "candidates": depth, **m})
    return max(grid, key=lambda g: (g["answer@1"] + g["gold@1"], g["mrr"])), grid


def _search_path(index, questions: list[dict], settings: Settings) -> dict:
    """The real search path (fusion + MMR + windows), timed end to end."""
    path_s, path_t, path_ms = [], [], []
    for q in questions:
        t = time.perf_counter()
        hits = search_index(index, q["question"], settings, k=20)
        path_ms.append((time.perf_counter() - t) * 1000)
        s, tx = by_source(((h.source, h.text) for h in hits), 20)
        path_s.append(s)
        path_t.append(tx)
    return {**retrieval_metrics(path_s, path_t, questions), **latency(path_ms)}


def run_retrieval(
    settings: Settings,
    korquad: Path = KORQUAD_FILE,
    articles: int | None = None,
    baseline: bool = True,
    log=lambda *a: print(*a, file=sys.stderr, flush=True),
) -> dict:
    """Tune fusion on the first half of the articles' questions, report on the second half."""
    built = index_korquad(settings, korquad, articles, log)
    half = built.articles // 2
    tune = [q for q in built.questions if q["article"] < half]
    test = [q for q in built.questions if q["article"] >= half]
    index = open_index(built.settings)
    scored = ScoredChunks(index, built.settings)
    log(f"Scoring {len(built.questions)} questions …")
    dense_ms, kw_ms = scored.score(built.questions)
    best, grid = _tune(scored, tune)
    dw = best["dense_weight"]
    log(f"Tuned on {len(tune)} questions: dense_weight={dw} candidates={best['candidates']}")
    results = {
        "dense": {**scored.metrics(test, lambda d, k: np.argsort(-d)), **latency(dense_ms)},
        "bm25": {**scored.metrics(test, lambda d, k: np.argsort(-k)), **latency(kw_ms)},
        "rrf_k60": scored.metrics(test, rrf_scorer),
        "hybrid": scored.metrics(test, hybrid_scorer(dw, 1 - dw, best["candidates"])),
    }
    log("Timing the real hybrid search path …")
    tuned = replace(
        built.settings, dense_weight=dw, keyword_weight=1 - dw, candidates=best["candidates"]
    )
    results["hybrid_search_path"] = _search_path(index, test, tuned)
    if baseline:
        log("LangChain baseline (RecursiveCharacterTextSplitter 1000/200 + FAISS.from_documents) …")
        results["langchain_baseline"] = _langchain_baseline(
            built.files, test, get_embedder(settings)
        )
    return {
        "korquad": str(korquad),
        "articles": built.articles,
        "paragraphs": len(built.files),
        "chunks": len(scored.rows),
        "tune_questions": len(tune),
        "test_questions": len(test),
        "ingest_seconds": round(built.seconds, 1),
        "chunks_embedded": built.chunks_embedded,
        "tuning": {"best": best, "grid": grid},
        "results": results,
    }


def _langchain_baseline(files, test, embedder) -> dict:
    """The tutorial pipeline: character splitter, same embedding model, FAISS, similarity_search."""
    import warnings

    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.vectorstores import FAISS

    from ..adapters import EmbedderEmbeddings

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    docs = splitter.split_documents(
        [Document(page_content=text, metadata={"source": name}) for name, _, text in files]
    )
    t = time.time()
    store = FAISS.from_documents(docs, EmbedderEmbeddings(embedder))
    build_s = time.time() - t
    sources, texts, ms = [], [], []
    for q in test:
        t = time.perf_counter()
        hits = store.similarity_search(q["question"], k=20)
        ms.append((time.perf_counter() - t) * 1000)
        s, tx = by_source(((h.metadata["source"], h.page_content) for h in hits), 20)
        sources.append(s)
        texts.append(tx)
    return {
        **retrieval_metrics(sources, texts, test),
        **latency(ms),
        "chunks": len(docs),
        "build_seconds": round(build_s, 1),
    }


def format_table(result: dict) -> str:
    cols = [
        "gold@1",
        "gold@5",
        "gold@20",
        "answer@1",
        "answer@5",
        "mrr",
        "passage_chars",
        "p50_ms",
        "p95_ms",
    ]
    lines = [
        f"KorQuAD 1.0 dev: {result['paragraphs']} paragraphs ({result['chunks']} chunks); "
        f"tuned on {result['tune_questions']} questions, reported on {result['test_questions']}",
        "| method | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for name, m in result["results"].items():
        lines.append(f"| {name} | " + " | ".join(str(m.get(c, "")) for c in cols) + " |")
    best = result["tuning"]["best"]
    lines.append(
        f"tuned: dense_weight={best['dense_weight']}, "
        f"keyword_weight={round(1 - best['dense_weight'], 2)}, "
        f"candidates={best['candidates']}; ingest {result['ingest_seconds']} s"
    )
    return "\n".join(lines)
