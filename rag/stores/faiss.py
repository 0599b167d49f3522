"""The index as files in a folder: FAISS vectors, the BM25 keyword index, chunk and article tables.

Layout under the index folder::

    CURRENT            names the live generation, e.g. "gen-000003"
    gen-000003/        manifest.json, articles.jsonl, chunks.jsonl, tokens.jsonl (each chunk's
                       keyword tokens; format 2 kept them in chunks.jsonl), vectors.faiss,
                       keywords/,
                       sentences.npy + sentences.json + sentence_articles.json (the evidence
                       sentences embedded at ingest, and the articles each one is in)
    .lock              held by the one process writing

A write builds a complete new generation folder, fsyncs it, then replaces ``CURRENT`` with
``os.replace`` (atomic), so a crash or Ctrl-C at any point leaves either the old or the new
index, never half of one. A loaded index is one generation and never changes (its sentence
vectors are mapped from its file, its keyword tokens read when a write first needs them): a
search that runs while a writer swaps in the next one reads one consistent generation. A write
keeps the generation it wrote, so the next batch of an ingest does not read it back.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import orjson

from ..articles import Article
from ..chunking import Chunk, split_sentences
from ..errors import IndexBusy, IndexCorrupt, IndexMissing, IndexWriteFailed
from ..keywords import KeywordIndex
from . import (
    EMPTY,
    FORMAT_VERSION,
    Changes,
    Manifest,
    Window,
    check_compatible,
    matches,
    newer_format,
    text_key,
)


class FaissIndex:
    """Inner-product search (vectors are normalised, so this is cosine): exact, or an inverted
    file (IVF) for large indexes, where exact search costs a full scan of every vector per query."""

    def __init__(self, index):
        self.index = index

    @classmethod
    def build(
        cls, vectors: np.ndarray, dim: int, ivf_from: int = 0, nprobe: int = 64
    ) -> FaissIndex:
        """Exact below ``ivf_from`` vectors (0: always exact); from there on IVF with about √n
        lists, of which a query scans the ``nprobe`` nearest (saved with the index). IVF, not
        HNSW: it trains in seconds and reaches the recall HNSW did not (see README, Performance)."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if ivf_from and len(vectors) >= ivf_from:
            lists = max(1, int(len(vectors) ** 0.5))
            index = faiss.IndexIVFFlat(
                faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT
            )
            rng = np.random.default_rng(0)
            sample = rng.choice(len(vectors), min(len(vectors), 64 * lists), replace=False)
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
    def load(cls, path: Path) -> FaissIndex:
        import faiss

        return cls(faiss.read_index(str(path)))

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    def search(self, query, k, rows=None):
        import faiss

        n = self.index.ntotal
        if n == 0 or k <= 0 or (rows is not None and len(rows) == 0):
            return EMPTY
        params = None
        if rows is not None:
            sel = faiss.IDSelectorBatch(np.asarray(rows, dtype=np.int64))
            if self.kind == "ivf":
                params = faiss.SearchParametersIVF(sel=sel, nprobe=self.index.nprobe)
            else:
                params = faiss.SearchParameters(sel=sel)
        return self.search_many(query.reshape(1, -1), k, params)[0]

    def search_many(self, queries, k, params=None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The ``k`` best rows of each query, in one call: FAISS scores a batch of queries as
        one matrix product, far faster than as many single searches on a large index."""
        n = self.index.ntotal
        if n == 0 or k <= 0:
            return [EMPTY for _ in queries]
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        scores, ids = self.index.search(queries, min(k, n), params=params)
        return [(i[i >= 0], s[i >= 0]) for i, s in zip(ids, scores)]

    def vectors(self, rows=None, out: np.ndarray | None = None) -> np.ndarray:
        """Stored vectors: all of them, or the given rows (written into ``out`` if given)."""
        if rows is not None:
            return self.index.reconstruct_batch(np.asarray(rows, dtype=np.int64), out)
        n = self.index.ntotal
        return (
            self.index.reconstruct_n(0, n) if n else np.zeros((0, self.index.d), dtype=np.float32)
        )


class SentenceTable:
    """Vectors of the articles' evidence sentences, embedded at ingest and keyed by a hash of the
    text, so answering a question looks them up instead of running the model on them.
    ``owners[i]`` lists the articles (rows of the article table) that hold sentence ``i``."""

    def __init__(self, keys: list[str], vectors: np.ndarray, owners: list[list[int]]):
        self.keys, self.vectors, self.owners = keys, vectors, owners
        self.row = {k: i for i, k in enumerate(keys)}

    def merged(
        self,
        old_articles: list[str],
        gone: set[str],
        added: dict[str, dict[str, np.ndarray]],
        article_keys: list[str],
    ) -> SentenceTable:
        """This table (its owners rows of ``old_articles``) without the sentences only ``gone``
        articles hold, with ``added`` (article key → sentence key → vector), owners renumbered
        to ``article_keys``. Only the kept rows are read: regrouping the whole table by article
        and stacking it again took seconds a write on a 20,000-article index."""
        position = {k: i for i, k in enumerate(article_keys)}
        keys, rows, owners = [], [], []
        for i, key in enumerate(self.keys):
            own = [position[old_articles[o]] for o in self.owners[i] if old_articles[o] not in gone]
            if own:
                keys.append(key)
                rows.append(i)
                owners.append(own)
        row = {k: n for n, k in enumerate(keys)}
        new = []
        for article, sentences in added.items():
            for key, vector in sentences.items():
                if key in row:
                    owners[row[key]].append(position[article])
                    continue
                row[key] = len(keys)
                keys.append(key)
                owners.append([position[article]])
                new.append(vector)
        vectors = _joined(
            len(rows),
            lambda out: np.take(self.vectors, rows, axis=0, out=out),
            new,
            self.vectors.shape[1],
        )
        return SentenceTable(keys, vectors, owners)

    def get(self, key: str) -> np.ndarray | None:
        i = self.row.get(key)
        return None if i is None else self.vectors[i]

    def by_article(self, article_keys: list[str]) -> dict[str, dict[str, np.ndarray]]:
        """Article key → its sentences' vectors."""
        out: dict[str, dict[str, np.ndarray]] = {k: {} for k in article_keys}
        for i, key in enumerate(self.keys):
            for owner in self.owners[i]:
                out[article_keys[owner]][key] = self.vectors[i]
        return out

    def save(self, folder: Path) -> None:
        with open(folder / "sentences.npy", "wb") as f:
            np.save(f, np.ascontiguousarray(self.vectors, dtype=np.float32))
        (folder / "sentences.json").write_bytes(orjson.dumps(self.keys))
        (folder / "sentence_articles.json").write_bytes(orjson.dumps(self.owners))

    @classmethod
    def load(cls, folder: Path, articles: list[Article]) -> SentenceTable:
        keys = orjson.loads((folder / "sentences.json").read_bytes())
        vectors = np.load(folder / "sentences.npy", mmap_mode="r")
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} sentence keys for {len(vectors)} vectors")
        owners_file = folder / "sentence_articles.json"
        if owners_file.exists():
            owners = orjson.loads(owners_file.read_bytes())
        else:  # written before owners were recorded: find each sentence in the articles' text
            found: dict[str, list[int]] = {}
            for i, article in enumerate(articles):
                for span in split_sentences(article.text):
                    found.setdefault(text_key(span.text), []).append(i)
            owners = [sorted(set(found.get(k, []))) for k in keys]
        if len(owners) != len(keys):
            raise ValueError(f"{len(owners)} sentence owners for {len(keys)} sentences")
        return cls(keys, vectors, owners)


def _joined(kept: int, fill, new, dim: int) -> np.ndarray:
    """One float32 array of ``kept`` old rows, written by ``fill(out)``, then the ``new`` rows,
    allocated once: stacking copies of them took 0.6 GB more at the peak of a write to a
    20,000-article index."""
    new = np.asarray(new, dtype=np.float32).reshape(-1, dim)
    out = np.empty((kept + len(new), dim), dtype=np.float32)
    if kept:
        fill(out[:kept])
    out[kept:] = new
    return out


class TokenRows:
    """Each chunk's keyword tokens, read from ``tokens.jsonl`` on first use: only a write needs
    them (to rebuild BM25), and they are most of the chunk table's bytes, so a search or a
    question does not wait for them."""

    def __init__(self, path: Path, rows: int):
        self.path, self.expected, self.rows = path, rows, None

    def _loaded(self) -> list[list[str]]:
        if self.rows is None:
            try:
                rows = _read_jsonl(self.path)
            except (OSError, ValueError) as e:
                raise IndexCorrupt(
                    f"index file {self.path} is unreadable ({e})",
                    _rebuild_hint(self.path.parents[1]),
                ) from None
            if len(rows) != self.expected:
                raise IndexCorrupt(
                    f"{self.path} has {len(rows)} rows for {self.expected} chunks",
                    _rebuild_hint(self.path.parents[1]),
                )
            self.rows = rows
        return self.rows

    def __getitem__(self, i):
        return self._loaded()[i]

    def __len__(self) -> int:
        return self.expected

    def __iter__(self):
        return iter(self._loaded())


@dataclass
class Generation:
    """One generation's tables in memory, rows aligned across chunks, tokens and vectors."""

    manifest: Manifest
    articles: dict[str, Article]
    chunks: list[Chunk]
    tokens: list[list[str]] | TokenRows
    vectors: FaissIndex
    keywords: KeywordIndex
    sentences: SentenceTable
    name: str = ""

    def __post_init__(self):
        self.last_bm25: tuple = ((), None)  # the same query's scores are asked for twice a search

    @classmethod
    def empty(cls, manifest: Manifest) -> Generation:
        dim = manifest.dim
        return cls(
            manifest,
            {},
            [],
            [],
            FaissIndex.build(np.zeros((0, dim)), dim),
            KeywordIndex.build([]),
            SentenceTable([], np.zeros((0, dim), dtype=np.float32), []),
        )


@dataclass
class Contents:
    """What a new generation is written from; ``vectors`` has one row per chunk."""

    manifest: Manifest
    articles: list[Article]
    chunks: list[Chunk]
    tokens: list[list[str]]
    vectors: np.ndarray
    sentences: SentenceTable


class FaissStore:
    """An index as files in ``index_dir`` (the module docstring has the layout). The store of a
    folder is a handle; ``load`` returns it bound to the live generation, ready to search."""

    def __init__(
        self, index_dir: Path, ivf_from: int = 0, nprobe: int = 64, data: Generation | None = None
    ):
        self.index_dir = Path(index_dir)
        self.where = str(self.index_dir.resolve())
        self.ivf_from, self.nprobe = ivf_from, nprobe
        self.data = data

    @property
    def manifest(self) -> Manifest:
        return self._tables().manifest

    def _tables(self) -> Generation:
        if self.data is None:
            raise IndexMissing(
                f"no index loaded from {self.where}", "load the store before searching it"
            )
        return self.data

    # The writing side.
    def load(self, expected: Manifest | None = None) -> FaissStore:
        """This store bound to the live generation (read once per generation and kept)."""
        data = _LOADED.get(self.index_dir, expected)
        return FaissStore(self.index_dir, self.ivf_from, self.nprobe, data)

    def writing(self):
        return write_lock(self.index_dir)

    def apply(self, changes: Changes) -> int:
        """Merge ``changes`` into the loaded generation (none: into an empty one) and write the
        result as the new live generation; returns its number of chunks."""
        old = (
            self.data
            if self.data is not None and not changes.rebuild
            else Generation.empty(changes.manifest)
        )
        gone = set(changes.removed) | {a.key for a in changes.articles}
        kept = [i for i, c in enumerate(old.chunks) if c.article_key not in gone]
        articles = {k: a for k, a in old.articles.items() if k not in gone}
        articles.update({a.key: a for a in changes.articles})
        dim = changes.manifest.dim
        kept_rows = np.asarray(kept, dtype=np.int64)
        vectors = _joined(
            len(kept), lambda out: old.vectors.vectors(kept_rows, out), changes.vectors, dim
        )
        table = old.sentences.merged(list(old.articles), gone, changes.sentences, list(articles))
        chunks = [old.chunks[i] for i in kept] + list(changes.chunks)
        tokens = [old.tokens[i] for i in kept] + list(changes.tokens)
        contents = Contents(
            changes.manifest, list(articles.values()), chunks, tokens, vectors, table
        )
        written = write_generation(self.index_dir, contents, self.ivf_from, self.nprobe)
        _LOADED.forget(self.index_dir)
        _LOADED.keep(self.index_dir, written)  # the next batch merges into it: not read again
        return len(chunks)

    def export(self) -> Changes:
        t = self._tables()
        sentences = t.sentences.by_article(list(t.articles))
        articles = list(t.articles.values())
        return Changes(
            t.manifest,
            articles,
            [],
            t.chunks,
            t.tokens,
            t.vectors.vectors(),
            sentences,
            rebuild=True,
        )

    # The search side, from memory.
    def size(self) -> int:
        return len(self._tables().chunks)

    def rows(self) -> np.ndarray:
        return np.arange(self.size(), dtype=np.int64)

    def _allowed(self, filters) -> np.ndarray | None:
        if not filters or not filters.active():
            return None
        t = self._tables()
        ok = [row for row, c in enumerate(t.chunks) if matches(t.articles[c.article_key], filters)]
        return np.asarray(ok, dtype=np.int64)

    def dense(self, query, depth, filters):
        allowed = self._allowed(filters)
        if allowed is not None and len(allowed) == 0:
            return EMPTY
        return self._tables().vectors.search(query, depth, allowed)

    def dense_many(self, queries, depth):
        return self._tables().vectors.search_many(queries, depth)

    def _bm25(self, tokens: list[str]) -> np.ndarray:
        t = self._tables()
        key, scores = t.last_bm25
        if key != tuple(tokens) or scores is None:
            scores = t.keywords.scores(tokens)
            t.last_bm25 = (tuple(tokens), scores)
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
        t = self._tables()
        chunks = [t.chunks[r] for r in rows]
        return (
            chunks,
            [t.articles[c.article_key] for c in chunks],
            t.vectors.vectors(np.asarray(rows)),
        )

    def windows(self, rows):
        return [self._window(int(row)) for row in rows]

    def _window(self, row: int) -> Window:
        chunks = self._tables().chunks
        key = chunks[row].article_key
        first, last = row, row
        while first > 0 and chunks[first - 1].article_key == key:
            first -= 1
        while last + 1 < len(chunks) and chunks[last + 1].article_key == key:
            last += 1
        return Window(self._tables().articles[key], chunks[first : last + 1], row - first)

    # The ingest side.
    def sentence_vectors(self, keys):
        table = self._tables().sentences
        found = {k: table.get(k) for k in keys}
        return {k: v for k, v in found.items() if v is not None}

    def catalog(self):
        return {k: (a.content_hash, a.source) for k, a in self._tables().articles.items()}

    def chunk_vectors(self, text_keys):
        t = self._tables()
        rows = [i for i, c in enumerate(t.chunks) if text_key(c.text) in text_keys]
        vectors = t.vectors.vectors(np.asarray(rows, dtype=np.int64)) if rows else []
        return {text_key(t.chunks[i].text): (v, t.tokens[i]) for i, v in zip(rows, vectors)}


class _Loaded:
    """Generations read from disk, kept per folder and generation (a writer's new generation is
    read once, the first time it is asked for)."""

    def __init__(self, size: int = 4):
        self.size, self.items, self.lock = size, {}, threading.Lock()

    def get(self, index_dir: Path, expected: Manifest | None) -> Generation:
        gen = current_generation(index_dir)
        with self.lock:
            data = self.items.get((str(index_dir.resolve()), gen.name if gen else ""))
        if data is not None:
            if expected is not None:
                check_compatible(data.manifest, expected, index_dir)
            return data
        data = load_generation(index_dir, expected)
        self.keep(index_dir, data)
        return data

    def keep(self, index_dir: Path, data: Generation) -> None:
        """Keep ``data``, the generation named ``data.name`` of ``index_dir``."""
        with self.lock:
            self.items[(str(index_dir.resolve()), data.name)] = data
            while len(self.items) > self.size:
                self.items.pop(next(iter(self.items)))

    def forget(self, index_dir: Path) -> None:
        with self.lock:
            folder = str(index_dir.resolve())
            self.items = {k: v for k, v in self.items.items() if k[0] != folder}


_LOADED = _Loaded()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_jsonl(path: Path, rows) -> None:
    """One JSON object a line (orjson: the tables of a large index are written and read several
    times faster than with the standard library's json)."""
    with open(path, "wb") as f:
        for row in rows:
            f.write(orjson.dumps(row) + b"\n")
        f.flush()
        os.fsync(f.fileno())


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, "rb") as f:
        return [orjson.loads(line) for line in f if line.strip()]


def _fields(row) -> dict:
    """A flat dataclass's fields as a dict (``asdict`` deep-copies every value, slowly)."""
    return dict(vars(row))


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / name if name else None


def load_generation(index_dir: Path, expected: Manifest | None = None) -> Generation:
    """Read the live generation; typed errors for missing, corrupt or incompatible indexes.

    A writer keeps the previous generation, so a reader is only caught out by two writes
    during one load; then the generation it read is gone and it loads the new one once."""
    gen = current_generation(index_dir)
    try:
        return _read_generation(index_dir, gen, expected)
    except IndexCorrupt:
        if current_generation(index_dir) == gen:
            raise
        return _read_generation(
            index_dir, current_generation(index_dir), expected
        )  # swapped mid-load


def _rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it: rag ingest --rebuild --index {index_dir}"


def _read_manifest(index_dir: Path, gen: Path) -> Manifest:
    try:
        raw = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        version = raw.get("format_version") if isinstance(raw, dict) else None
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise newer_format(version, index_dir)
        return Manifest(**raw)
    except (OSError, ValueError, TypeError) as e:
        raise IndexCorrupt(
            f"index at {index_dir} is unreadable (manifest: {e})", _rebuild_hint(index_dir)
        ) from None


def _read_generation(index_dir: Path, gen: Path | None, expected: Manifest | None) -> Generation:
    if gen is None:
        raise IndexMissing(
            f"no index at {index_dir}", f"build one: rag ingest [PATH ...] --index {index_dir}"
        )
    manifest = _read_manifest(index_dir, gen)
    if expected is not None:
        check_compatible(manifest, expected, index_dir)
    try:
        articles = [Article(**a) for a in _read_jsonl(gen / "articles.jsonl")]
        rows = _read_jsonl(gen / "chunks.jsonl")
        if (gen / "tokens.jsonl").exists():
            tokens: list | TokenRows = TokenRows(gen / "tokens.jsonl", len(rows))
        else:  # format 2 and older: the tokens are in the chunk table
            tokens = [r.pop("keywords") for r in rows]
        chunks = [Chunk(**r) for r in rows]
        vectors = FaissIndex.load(gen / "vectors.faiss")
        keywords = KeywordIndex.load(gen / "keywords")
        dim = manifest.dim or 384
        no_table = SentenceTable([], np.zeros((0, dim), dtype=np.float32), [])
        sentences = SentenceTable.load(gen, articles) if manifest.format_version >= 2 else no_table
    except Exception as e:  # any unreadable part means the same thing to the user
        raise IndexCorrupt(
            f"index at {index_dir} is damaged ({type(e).__name__}: {str(e)[:200]})",
            _rebuild_hint(index_dir),
        ) from None
    if vectors.index.ntotal != len(chunks) or keywords.bm25.scores["num_docs"] != max(
        len(chunks), 1
    ):
        raise IndexCorrupt(
            f"index at {index_dir} is inconsistent ({vectors.index.ntotal} vectors, {len(chunks)} "
            "chunks)",
            _rebuild_hint(index_dir),
        )
    by_key = {a.key: a for a in articles}
    return Generation(manifest, by_key, chunks, tokens, vectors, keywords, sentences, gen.name)


def _write_files(
    tmp: Path, data: Contents, ivf_from: int, nprobe: int
) -> tuple[FaissIndex, KeywordIndex]:
    """Write the generation's files into ``tmp``; the vector and keyword indexes built."""
    _write_jsonl(tmp / "articles.jsonl", (_fields(a) for a in data.articles))
    _write_jsonl(tmp / "chunks.jsonl", (_fields(c) for c in data.chunks))
    _write_jsonl(tmp / "tokens.jsonl", data.tokens)
    vectors = FaissIndex.build(data.vectors, data.manifest.dim, ivf_from, nprobe)
    vectors.save(tmp / "vectors.faiss")
    (tmp / "keywords").mkdir()
    keywords = KeywordIndex.build(data.tokens)
    keywords.save(tmp / "keywords")
    data.sentences.save(tmp)
    with open(tmp / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(asdict(data.manifest), f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    for p in tmp.rglob("*"):
        if p.is_file():
            with open(p, "rb+") as f:
                os.fsync(f.fileno())
    return vectors, keywords


def write_generation(
    index_dir: Path, data: Contents, ivf_from: int = 0, nprobe: int = 64
) -> Generation:
    """Write ``data`` as a new generation and make it live atomically; older generations but
    one are removed. Returns the generation as loading it would (without reading it back).
    ``ivf_from``/``nprobe``: when the vectors get an approximate index (``FaissIndex.build``)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    previous = current_generation(index_dir)
    number = int(previous.name.split("-")[1]) + 1 if previous else 1
    name = f"gen-{number:06d}"
    tmp = index_dir / f".{name}.tmp-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        vectors, keywords = _write_files(tmp, data, ivf_from, nprobe)
    except (
        OSError,
        RuntimeError,
    ) as e:  # disk full, file too large (faiss reports it as RuntimeError)
        shutil.rmtree(tmp, ignore_errors=True)
        reason = (
            e.strerror
            if isinstance(e, OSError) and e.strerror
            else str(e).strip().splitlines()[-1][:160]
        )
        raise IndexWriteFailed(
            f"could not write the new index at {index_dir} ({reason})",
            "free disk space and run the ingest again; the previous index is unchanged",
        ) from None
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
    articles = {a.key: a for a in data.articles}
    # the sentence vectors as loading maps them: from the file, not a copy in memory
    table = data.sentences
    sentences = SentenceTable(
        table.keys, np.load(final / "sentences.npy", mmap_mode="r"), table.owners
    )
    return Generation(
        data.manifest, articles, data.chunks, data.tokens, vectors, keywords, sentences, name
    )


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
            raise IndexBusy(
                f"another process is writing the index at {index_dir}",
                "wait for that ingest to finish, then run this again",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
