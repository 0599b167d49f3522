"""The index on disk: FAISS vectors, the BM25 keyword index, the chunk and article tables.

Layout under the index folder::

    CURRENT            names the live generation, e.g. "gen-000003"
    gen-000003/        manifest.json, articles.jsonl, chunks.jsonl, vectors.faiss, keywords/,
                       sentences.npy + sentences.json (answer sentences embedded at ingest)
    .lock              held by the one process writing

A write builds a complete new generation folder, fsyncs it, then replaces ``CURRENT``
with ``os.replace`` (atomic), so a crash or Ctrl-C at any point leaves either the old
or the new index, never half of one. Readers load a generation fully into memory.

What retrieval, answering and ingest need from any store is the ``Store`` protocol below;
``IndexData`` is the FAISS implementation (all in memory), ``store_pg.PgStore`` the PostgreSQL
one, ``store_milvus.MilvusStore`` the Milvus one.
Rows are integers that a store hands out and takes back; nothing else is assumed about them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from .chunking import Chunk
from .errors import IndexBusy, IndexCorrupt, IndexIncompatible, IndexMissing, IndexWriteFailed
from .ingest import Article
from .keyword import KeywordIndex

FORMAT_VERSION = 2  # 2 added the sentence table; format 1 still loads (without it)


class VectorIndex(Protocol):
    """The swappable vector side: rows are chunk-table positions."""

    def search(self, query: np.ndarray, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...
    def vectors(self, rows: np.ndarray | None = None) -> np.ndarray: ...


class FaissIndex:
    """Inner-product search (vectors are normalised, so this is cosine): exact, or an inverted
    file (IVF) for large indexes, where exact search costs a full scan of every vector per query."""

    def __init__(self, index):
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray, dim: int, ivf_from: int = 0, nprobe: int = 64) -> "FaissIndex":
        """Exact below ``ivf_from`` vectors (0: always exact); from there on IVF with about √n
        lists, of which a query scans the ``nprobe`` nearest (saved with the index). IVF, not
        HNSW: on the benchmark's 1,000,000 vectors HNSW (M=32) reached only 0.67 recall@10 at
        efSearch 1024 after a 4-minute build, IVF trains in seconds (see README)."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if ivf_from and len(vectors) >= ivf_from:
            lists = max(1, int(len(vectors) ** 0.5))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), 64 * lists), replace=False)
            index.train(vectors[np.sort(sample)])
            index.nprobe = nprobe
        else:
            index = faiss.IndexFlatIP(dim)
        if len(vectors):
            index.add(vectors)
        if hasattr(index, "nprobe"):
            index.make_direct_map()  # rows can be read back (re-ingest, MMR)
        return cls(index)

    @property
    def kind(self) -> str:
        return "ivf" if hasattr(self.index, "nprobe") else "exact"

    @classmethod
    def load(cls, path: Path) -> "FaissIndex":
        import faiss

        return cls(faiss.read_index(str(path)))

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    def search(self, query, k, rows=None):
        import faiss

        n = self.index.ntotal
        if n == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = None
        if rows is not None:
            if len(rows) == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            sel = faiss.IDSelectorBatch(np.asarray(rows, dtype=np.int64))
            params = (faiss.SearchParametersIVF(sel=sel, nprobe=self.index.nprobe) if self.kind == "ivf"
                      else faiss.SearchParameters(sel=sel))
        scores, ids = self.index.search(query.reshape(1, -1).astype(np.float32), min(k, n), params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def vectors(self, rows=None) -> np.ndarray:
        """Stored vectors: all of them, or the given rows."""
        if rows is not None:
            return self.index.reconstruct_batch(np.asarray(rows, dtype=np.int64))
        n = self.index.ntotal
        return self.index.reconstruct_n(0, n) if n else np.zeros((0, self.index.d), dtype=np.float32)


@dataclass(frozen=True)
class Manifest:
    """What shaped the index; loading with other settings is refused."""

    format_version: int
    embedding_model: str
    dim: int
    chunking: dict
    keyword_analyzer: str
    articles: dict = field(default_factory=dict)  # article key -> content hash
    created: float = 0.0


@dataclass
class Changes:
    """One ingest's changes to a store, applied atomically: ``articles`` are new or changed
    (replacing any previous version with their chunks and sentences), ``removed`` are keys to drop.
    ``rebuild`` drops everything else first (a full rebuild or a migration)."""

    manifest: Manifest
    articles: list[Article]
    removed: list[str]
    chunks: list[Chunk]            # of ``articles``, in article order
    tokens: list[list[str]]        # keyword tokens, one list per chunk
    vectors: np.ndarray            # one row per chunk
    sentences: dict[str, dict[str, np.ndarray]]  # article key -> sentence key -> vector
    rebuild: bool = False


class Store(Protocol):
    """What the pipeline asks of an index, wherever it lives. Filters are done by the store."""

    manifest: Manifest

    def size(self) -> int: ...
    def dense(self, query: np.ndarray, depth: int, filters) -> tuple[np.ndarray, np.ndarray]: ...
    def keyword(self, tokens: list[str], depth: int, filters, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...
    def fetch(self, rows: np.ndarray) -> tuple[list[Chunk], list[Article], np.ndarray]: ...
    def neighbours(self, row: int) -> tuple[Article, list[Chunk], int]: ...
    def sentence_vectors(self, keys: list[str]) -> dict[str, np.ndarray]: ...
    def catalog(self) -> dict[str, tuple[str, str]]: ...
    def chunk_vectors(self, text_keys: set[str]) -> dict[str, tuple[np.ndarray, list[str]]]: ...
    def export(self, sentence_keys: Callable[[Article], list[str]]) -> Changes: ...


def text_key(text: str) -> str:
    """The key a chunk's or sentence's vector is found by: the hash of its text."""
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def matches(article: Article, filters) -> bool:
    """Whether an article passes ``retrieve.Filters`` (dates compare as ISO strings)."""
    if not filters:
        return True
    if filters.sources and article.source not in filters.sources:
        return False
    if filters.outlets and article.outlet not in filters.outlets:
        return False
    if filters.date_from and not (article.published and article.published >= filters.date_from):
        return False
    if filters.date_to and not (article.published and article.published[: len(filters.date_to)] <= filters.date_to):
        return False
    return True


_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


@dataclass
class IndexData:
    """A loaded generation: tables in memory, rows aligned across chunks/tokens/vectors."""

    manifest: Manifest
    articles: dict[str, Article]
    chunks: list[Chunk]
    tokens: list[list[str]]
    vectors: VectorIndex
    keywords: KeywordIndex
    generation: str = ""
    sentences: "SentenceTable | None" = None

    def __post_init__(self):
        self.row_of = {c.id: i for i, c in enumerate(self.chunks)}
        if self.sentences is None:
            self.sentences = SentenceTable([], np.zeros((0, self.manifest.dim or 384), dtype=np.float32))
        self._last_bm25: tuple = ((), None)

    # The Store protocol, from memory.
    def size(self) -> int:
        return len(self.chunks)

    def _allowed(self, filters) -> np.ndarray | None:
        if not filters or not filters.active():
            return None
        ok = [row for row, c in enumerate(self.chunks) if matches(self.articles[c.article_key], filters)]
        return np.asarray(ok, dtype=np.int64)

    def dense(self, query, depth, filters):
        allowed = self._allowed(filters)
        return _EMPTY if allowed is not None and len(allowed) == 0 else self.vectors.search(query, depth, allowed)

    def _bm25(self, tokens: list[str]) -> np.ndarray:
        key, scores = self._last_bm25  # the same query's scores are asked for twice per search
        if key != tuple(tokens) or scores is None:
            scores = self.keywords.scores(tokens)
            self._last_bm25 = (tuple(tokens), scores)
        return scores

    def keyword(self, tokens, depth, filters, rows=None):
        scores = self._bm25(tokens)
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
            return rows, scores[rows]
        allowed = self._allowed(filters)
        masked = scores
        if allowed is not None:
            masked = np.full(len(scores), -1.0, dtype=np.float32)
            masked[allowed] = scores[allowed]
        top = np.argsort(-masked)[:depth]
        top = top[masked[top] > 0]
        return top.astype(np.int64), masked[top]

    def fetch(self, rows):
        chunks = [self.chunks[r] for r in rows]
        return chunks, [self.articles[c.article_key] for c in chunks], self.vectors.vectors(np.asarray(rows))

    def neighbours(self, row):
        key = self.chunks[row].article_key
        first, last = row, row
        while first > 0 and self.chunks[first - 1].article_key == key:
            first -= 1
        while last + 1 < len(self.chunks) and self.chunks[last + 1].article_key == key:
            last += 1
        return self.articles[key], self.chunks[first:last + 1], row - first

    def sentence_vectors(self, keys):
        found = {k: self.sentences.get(k) for k in keys}
        return {k: v for k, v in found.items() if v is not None}

    def catalog(self):
        return {k: (a.content_hash, a.source) for k, a in self.articles.items()}

    def chunk_vectors(self, text_keys):
        rows = [i for i, c in enumerate(self.chunks) if text_key(c.text) in text_keys]
        vectors = self.vectors.vectors(np.asarray(rows, dtype=np.int64)) if rows else []
        return {text_key(self.chunks[i].text): (v, self.tokens[i]) for i, v in zip(rows, vectors)}

    def export(self, sentence_keys):
        sentences = {k: self.sentence_vectors(sentence_keys(a)) for k, a in self.articles.items()}
        return Changes(self.manifest, list(self.articles.values()), [], self.chunks, self.tokens,
                       self.vectors.vectors(), sentences, rebuild=True)


class SentenceTable:
    """Vectors of the articles' answer sentences, embedded at ingest and keyed by a hash of the
    text, so answering a question looks them up instead of running the model on them."""

    def __init__(self, keys: list[str], vectors: np.ndarray):
        self.keys = keys
        self.vectors = vectors
        self.row = {k: i for i, k in enumerate(keys)}

    def get(self, key: str) -> np.ndarray | None:
        i = self.row.get(key)
        return None if i is None else self.vectors[i]

    def save(self, folder: Path) -> None:
        with open(folder / "sentences.npy", "wb") as f:
            np.save(f, np.ascontiguousarray(self.vectors, dtype=np.float32))
        (folder / "sentences.json").write_text(json.dumps(self.keys), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "SentenceTable":
        keys = json.loads((folder / "sentences.json").read_text(encoding="utf-8"))
        vectors = np.load(folder / "sentences.npy", mmap_mode="r")
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} sentence keys for {len(vectors)} vectors")
        return cls(keys, vectors)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / name if name else None


def check_compatible(manifest: Manifest, expected: Manifest, where: Path) -> None:
    """Refuse an index built with another format, model or chunking, saying how to rebuild."""
    rebuild = f"rebuild it: rag ingest --rebuild --index {where}"
    if manifest.format_version > FORMAT_VERSION:
        raise IndexIncompatible(f"index at {where} has format {manifest.format_version}, newer than this "
                                f"version of rag understands ({FORMAT_VERSION})", "upgrade rag, or " + rebuild)
    if manifest.format_version not in (1, expected.format_version):
        raise IndexIncompatible(f"index at {where} has old format {manifest.format_version}", rebuild)
    if manifest.embedding_model != expected.embedding_model:
        raise IndexIncompatible(
            f"index at {where} was built with embedding model {manifest.embedding_model!r}, "
            f"but the settings name {expected.embedding_model!r}",
            f"set embedding_model back, or {rebuild}")
    if manifest.chunking != expected.chunking:
        raise IndexIncompatible(
            f"index at {where} was built with other chunk settings {manifest.chunking} "
            f"(now {expected.chunking})", f"restore the settings, or {rebuild}")
    if manifest.keyword_analyzer != expected.keyword_analyzer:
        raise IndexIncompatible(
            f"index at {where} holds keywords from analyzer {manifest.keyword_analyzer!r}; this version "
            f"of rag analyses text with {expected.keyword_analyzer!r}", rebuild)


def load_index(index_dir: Path, expected: Manifest | None = None) -> IndexData:
    """Load the live generation; typed errors for missing, corrupt or incompatible indexes.

    A writer keeps the previous generation, so a reader is only caught out by two writes
    during one load; then the generation it read is gone and it loads the new one once."""
    gen = current_generation(index_dir)
    try:
        return _load_generation(index_dir, gen, expected)
    except IndexCorrupt:
        if current_generation(index_dir) == gen:
            raise
        return _load_generation(index_dir, current_generation(index_dir), expected)  # swapped mid-load


def _load_generation(index_dir: Path, gen: Path | None, expected: Manifest | None) -> IndexData:
    if gen is None:
        raise IndexMissing(f"no index at {index_dir}", f"build one: rag ingest [PATH ...] --index {index_dir}")
    try:
        raw = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        if isinstance(raw, dict) and isinstance(raw.get("format_version"), int) and raw["format_version"] > FORMAT_VERSION:
            raise IndexIncompatible(f"index at {index_dir} has format {raw['format_version']}, newer than this "
                                    f"version of rag understands ({FORMAT_VERSION})",
                                    f"upgrade rag, or rebuild it: rag ingest --rebuild --index {index_dir}")
        manifest = Manifest(**raw)
    except (OSError, ValueError, TypeError) as e:
        raise IndexCorrupt(f"index at {index_dir} is unreadable (manifest: {e})",
                           f"rebuild it: rag ingest --rebuild --index {index_dir}") from None
    if expected is not None:
        check_compatible(manifest, expected, index_dir)
    try:
        articles = {a["key"]: Article(**a) for a in _read_jsonl(gen / "articles.jsonl")}
        rows = _read_jsonl(gen / "chunks.jsonl")
        tokens = [r.pop("keywords") for r in rows]
        chunks = [Chunk(**r) for r in rows]
        vectors = FaissIndex.load(gen / "vectors.faiss")
        keywords = KeywordIndex.load(gen / "keywords")
        sentences = SentenceTable.load(gen) if manifest.format_version >= 2 else None
    except Exception as e:  # any unreadable part means the same thing to the user
        raise IndexCorrupt(f"index at {index_dir} is damaged ({type(e).__name__}: {str(e)[:200]})",
                           f"rebuild it: rag ingest --rebuild --index {index_dir}") from None
    if vectors.index.ntotal != len(chunks) or keywords.bm25.scores["num_docs"] != max(len(chunks), 1):
        raise IndexCorrupt(f"index at {index_dir} is inconsistent ({vectors.index.ntotal} vectors, "
                           f"{len(chunks)} chunks)", f"rebuild it: rag ingest --rebuild --index {index_dir}")
    return IndexData(manifest, articles, chunks, tokens, vectors, keywords, gen.name, sentences)


def write_index(index_dir: Path, manifest: Manifest, articles: list[Article], chunks: list[Chunk],
                tokens: list[list[str]], vectors: np.ndarray, sentences: SentenceTable,
                ivf_from: int = 0, nprobe: int = 64) -> Path:
    """Write a new generation and make it live atomically; older generations but one are removed.
    ``ivf_from``/``nprobe``: when the vectors get an approximate index (``FaissIndex.build``)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    previous = current_generation(index_dir)
    number = int(previous.name.split("-")[1]) + 1 if previous else 1
    name = f"gen-{number:06d}"
    tmp = index_dir / f".{name}.tmp-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        _write_jsonl(tmp / "articles.jsonl", (asdict(a) for a in articles))
        _write_jsonl(tmp / "chunks.jsonl", ({**asdict(c), "keywords": t} for c, t in zip(chunks, tokens)))
        FaissIndex.build(vectors, manifest.dim, ivf_from, nprobe).save(tmp / "vectors.faiss")
        (tmp / "keywords").mkdir()
        KeywordIndex.build(tokens).save(tmp / "keywords")
        sentences.save(tmp)
        with open(tmp / "manifest.json", "w", encoding="utf-8") as f:
            json.dump(asdict(manifest), f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        for p in tmp.rglob("*"):
            if p.is_file():
                with open(p, "rb+") as f:
                    os.fsync(f.fileno())
    except (OSError, RuntimeError) as e:  # disk full, file too large (faiss reports it as RuntimeError)
        shutil.rmtree(tmp, ignore_errors=True)
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).strip().splitlines()[-1][:160]
        raise IndexWriteFailed(f"could not write the new index at {index_dir} ({reason})",
                               "free disk space and run the ingest again; the previous index is unchanged") from None
    final = index_dir / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer_tmp = index_dir / f".CURRENT.tmp-{os.getpid()}"
    with open(pointer_tmp, "w", encoding="utf-8") as f:
        f.write(name)
        f.flush()
        os.fsync(f.fileno())
    os.replace(pointer_tmp, index_dir / "CURRENT")
    _fsync_dir(index_dir)
    remove_stale(index_dir, keep={name, previous.name if previous else ""})
    return final


def apply_changes(index_dir: Path, old: IndexData | None, changes: Changes,
                  sentence_keys: Callable[[Article], list[str]], ivf_from: int = 0, nprobe: int = 64) -> int:
    """Merge ``changes`` into the loaded ``old`` generation and write the result as a new one;
    returns the number of chunks. ``sentence_keys`` names the answer sentences of an article
    (kept articles keep theirs)."""
    gone = set(changes.removed) | {a.key for a in changes.articles}
    if changes.rebuild or old is None:
        old = IndexData(changes.manifest, {}, [], [], FaissIndex.build(np.zeros((0, changes.manifest.dim)), changes.manifest.dim),
                        KeywordIndex.build([]))
    kept = [i for i, c in enumerate(old.chunks) if c.article_key not in gone]
    articles = {k: a for k, a in old.articles.items() if k not in gone}
    articles.update({a.key: a for a in changes.articles})
    chunks = [old.chunks[i] for i in kept] + list(changes.chunks)
    tokens = [old.tokens[i] for i in kept] + list(changes.tokens)
    dim = changes.manifest.dim
    parts = [old.vectors.vectors(np.asarray(kept, dtype=np.int64)) if kept else np.zeros((0, dim)),
             np.asarray(changes.vectors).reshape(-1, dim)]
    vectors = np.vstack(parts).astype(np.float32)
    table: dict[str, np.ndarray] = {}
    for key, article in articles.items():
        if key not in gone:
            table.update(old.sentence_vectors(sentence_keys(article)))
    for per_article in changes.sentences.values():
        table.update(per_article)
    sentences = SentenceTable(list(table), np.vstack(list(table.values())).astype(np.float32) if table
                              else np.zeros((0, dim), dtype=np.float32))
    write_index(index_dir, changes.manifest, list(articles.values()), chunks, tokens, vectors, sentences,
                ivf_from, nprobe)
    return len(chunks)


def remove_stale(index_dir: Path, keep: set[str]) -> None:
    """Delete generations other than ``keep`` and leftovers of interrupted writes."""
    for p in index_dir.iterdir():
        if p.name in keep or p.name in ("CURRENT", ".lock", "README.md"):
            continue
        if p.name.startswith(("gen-", ".gen-", ".CURRENT.tmp")):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


@contextlib.contextmanager
def write_lock(index_dir: Path, wait: bool = False):
    """Only one writer at a time; a second one is refused with a clear message (or waits)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise IndexBusy(f"another process is writing the index at {index_dir}",
                            "wait for that ingest to finish, then run this again") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
