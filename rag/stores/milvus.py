"""The index in Milvus (natively distributed): the same ``Store`` as the FAISS files.

Four collections per index (``store_collection`` as prefix): ``_chunks`` (the chunk, its
article's filter fields copied in, Kiwi keyword tokens analysed by Milvus' ``standard``
analyzer into a BM25 sparse vector, and the embedding with an HNSW index), ``_sentences``
(evidence-sentence vectors per article), ``_articles`` (metadata and text, in pieces that fit a
VARCHAR) and ``_meta`` (the manifest). Filters are Milvus filter expressions; keyword search is
Milvus' own BM25 (k1 1.5, b 0.75 like bm25s). Its analyzer sees each Kiwi token as one opaque
word (a hash of it): the analyzers Milvus Lite offers ('standard', 'jieba') would split tokens
Kiwi keeps whole ("알렉산더 헤이그" before analyser v3), and BM25 would then disagree with the
FAISS default. Index and search parameters are given explicitly: Milvus Lite refuses
LangChain's defaults.

Milvus has no transactions, so an ingest deletes a changed article's rows, writes its
``_articles`` rows with an empty content hash, then its chunks and sentences, and only then the
real hash: an interrupted ingest leaves that article partly indexed (never doubled, and readers
never see a chunk without its article), and the next ingest sees the hash differ and writes it
again. One writer at a time is kept by a lock row in ``_meta``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import socket
import time
from dataclasses import asdict, replace

import numpy as np

from ..articles import Article
from ..chunking import Chunk
from ..errors import BadInput, IndexBusy, IndexMissing, StoreUnavailable
from . import EMPTY, Changes, Manifest, Window, check_compatible, text_key

# gRPC's keep-alive chatter with Milvus Lite is not the user's business
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

PIECE = 16_000  # characters of article text per row (≤ 64 KB of UTF-8, the VARCHAR limit)
BATCH = 500  # rows per insert, keys per "in [...]" filter
TOPK = 16_384  # Milvus' largest limit
# pymilvus pings every 10 s even when idle; Milvus Lite's gRPC server allows one ping per 5 min
# and answers more with GOAWAY "too_many_pings", after which this process cannot reconnect: an
# index idle for over a minute became unreachable. Ping no more than a default server permits.
KEEPALIVE = {"grpc.keepalive_time_ms": 600_000, "grpc.keepalive_permit_without_calls": False}
LOCK_STALE = 3600  # seconds after which a writer's lock row is taken as left by a crash
CHUNK_FIELDS = ["row", "id", "article_key", "position", "start_pos", "end_pos", "text", "n_tokens"]
ARTICLE_FIELDS = ["key", "source", "title", "published", "outlet", "content_hash"]


def _words(tokens: list[str]) -> str:
    """Kiwi tokens as one word each for Milvus' analyzer (see the module docstring)."""
    import hashlib

    return " ".join("k" + hashlib.sha1(t.encode("utf-8")).hexdigest()[:16] for t in tokens)


def _quoted(values) -> str:
    return "[" + ", ".join(json.dumps(str(v), ensure_ascii=False) for v in values) + "]"


def _batches(items: list, size: int = BATCH):
    for i in range(0, len(items), size):
        yield items[i : i + size]


class MilvusStore:
    """An index in a Milvus server (or Milvus Lite in server mode) at ``http://host:port``."""

    def __init__(self, url: str, collection: str):
        if not url:
            raise BadInput(
                "store is 'milvus' but store_url is empty",
                "set store_url, e.g. RAG_STORE_URL=http://127.0.0.1:19530",
            )
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", collection):
            raise BadInput(
                f"store_collection {collection!r} is not a plain name", "use letters, digits and _"
            )
        self.url = re.sub(r"^milvus://", "http://", url)
        self.c = collection
        self.where = f"{re.sub(r'//[^@/]*@', '//***@', url)} (collection {collection})"
        self.manifest: Manifest | None = None
        self.n = 0

    @classmethod
    @functools.lru_cache(maxsize=8)
    def connect(cls, url: str, collection: str) -> "MilvusStore":
        return cls(url, collection)

    @functools.cached_property
    def client(self):
        import logging

        from pymilvus import MilvusClient

        logging.getLogger("pymilvus").setLevel(
            logging.ERROR
        )  # Lite's iterator warns on every query
        try:  # a busy server (Milvus Lite under a test run) can take seconds to accept a channel
            return MilvusClient(uri=self.url, timeout=30, grpc_options=KEEPALIVE)
        except Exception as e:  # noqa: BLE001 - pymilvus raises several kinds for "not there"
            raise StoreUnavailable(
                f"cannot connect to Milvus at {self.url} ({str(e).strip()[:200]})",
                "start the server or fix store_url",
            ) from None

    def _name(self, part: str) -> str:
        return f"{self.c}_{part}"

    def _query(self, part: str, expr: str, fields: list[str], bounded: bool = False) -> list[dict]:
        """Rows of a collection matching ``expr``: in one call when ``bounded`` (at most Milvus'
        16,384), else all of them, paged (an iterator costs several calls: too slow to search)."""
        if bounded:
            return self.client.query(
                self._name(part), filter=expr, output_fields=fields, limit=TOPK
            )
        out, it = (
            [],
            self.client.query_iterator(
                self._name(part), batch_size=1000, filter=expr, output_fields=fields
            ),
        )
        try:
            while batch := it.next():
                out += batch
        finally:
            it.close()
        return out

    def load(self, expected: Manifest | None = None) -> "MilvusStore":
        if not self.client.has_collection(self._name("meta")):
            raise IndexMissing(
                f"no index at {self.where}",
                "build one: rag ingest [PATH ...] with the same store settings",
            )
        found = self.client.query(self._name("meta"), filter="id == 1", output_fields=["manifest"])
        if not found:
            raise IndexMissing(
                f"no index at {self.where}",
                "build one: rag ingest [PATH ...] with the same store settings",
            )
        meta = json.loads(found[0]["manifest"])
        manifest = Manifest(**meta["manifest"])
        if expected is not None:
            check_compatible(manifest, expected, self.where)
        self.manifest, self.n = manifest, int(meta["chunks"])
        return self

    # Writing.
    @contextlib.contextmanager
    def writing(self):
        """One writer at a time, by a lock row in ``_meta`` (Milvus has no locks of its own)."""
        self._create(0)
        me = f"{socket.gethostname()}:{os.getpid()}"
        held = self.client.query(self._name("meta"), filter="id == 2", output_fields=["manifest"])
        if held:
            owner, since = json.loads(held[0]["manifest"])
            if time.time() - since < LOCK_STALE:
                raise IndexBusy(
                    f"another process ({owner}) is writing the index at {self.where}",
                    "wait for that ingest to finish, then run this again",
                )
        self.client.upsert(
            self._name("meta"),
            [{"id": 2, "manifest": json.dumps([me, time.time()]), "v": [0.0, 0.0]}],
        )
        try:
            yield
        finally:
            self.client.delete(self._name("meta"), filter="id == 2")

    def _create(self, dim: int) -> None:
        """The collections, with explicit index parameters (``dim`` 0: only ``_meta``)."""
        parts = [("meta", _meta_schema)] + (
            [
                ("articles", _articles_schema),
                ("chunks", _chunks_schema),
                ("sentences", _sentences_schema),
            ]
            if dim
            else []
        )
        for part, schema in parts:
            if not self.client.has_collection(self._name(part)):
                fields, indexes = schema(self.client, dim)
                params = self.client.prepare_index_params()
                for field, kind, metric, extra in indexes:
                    params.add_index(field, index_type=kind, metric_type=metric, params=extra)
                self.client.create_collection(
                    self._name(part), schema=fields, index_params=params, consistency_level="Strong"
                )

    def apply(self, changes: Changes) -> int:
        """Delete the changed and removed articles' rows and insert the new ones; an article's
        content hash is written last, so an interrupted write is redone by the next ingest."""
        c = self.client
        if changes.rebuild:
            for part in ("chunks", "sentences", "articles"):
                if c.has_collection(self._name(part)):
                    c.drop_collection(self._name(part))
        self._create(changes.manifest.dim)
        gone = list(changes.removed) + [a.key for a in changes.articles]
        for keys in _batches(gone):
            for part, field in (
                ("articles", "key"),
                ("chunks", "article_key"),
                ("sentences", "article_key"),
            ):
                c.delete(self._name(part), filter=f"{field} in {_quoted(keys)}")
        pieces = _article_pieces(changes.articles)
        for batch in _batches([{**p, "content_hash": ""} for p in pieces], 50):  # "being written"
            c.insert(self._name("articles"), batch)
        for batch in _batches(_chunk_rows(changes)):
            c.insert(self._name("chunks"), batch)
        sentences = [
            {"article_key": k, "key": key, "embedding": np.asarray(v, dtype=np.float32).tolist()}
            for k, per in changes.sentences.items()
            for key, v in per.items()
        ]
        for batch in _batches(sentences):
            c.insert(self._name("sentences"), batch)
        for batch in _batches(pieces, 50):  # done: the real content hashes
            c.upsert(self._name("articles"), batch)
        n = int(c.query(self._name("chunks"), filter="", output_fields=["count(*)"])[0]["count(*)"])
        meta = {
            "manifest": {**asdict(changes.manifest), "articles": {}},
            "chunks": n,
        }  # the catalog is _articles
        row = {"id": 1, "manifest": json.dumps(meta, ensure_ascii=False), "v": [0.0, 0.0]}
        c.upsert(self._name("meta"), [row])
        self.manifest, self.n = changes.manifest, n
        return n

    def drop(self) -> None:
        for part in ("chunks", "sentences", "articles", "meta"):
            if self.client.has_collection(self._name(part)):
                self.client.drop_collection(self._name(part))

    # The Store protocol.
    def size(self) -> int:
        return self.n

    def rows(self) -> np.ndarray:
        return np.array(
            sorted(r["row"] for r in self._query("chunks", "", ["row"])), dtype=np.int64
        )

    @staticmethod
    def _filter(filters) -> str:
        if not filters or not filters.active():
            return ""
        conds = []
        if filters.sources:
            conds.append(f"source in {_quoted(filters.sources)}")
        if filters.outlets:
            conds.append(f"outlet in {_quoted(filters.outlets)}")
        if filters.date_from:
            conds.append(f'published != "" and published >= {json.dumps(filters.date_from)}')
        if filters.date_to:  # published[:len(date_to)] <= date_to, for ISO strings
            conds.append(f'published != "" and published < {json.dumps(filters.date_to + "~")}')
        return " and ".join(f"({c})" for c in conds)

    def _search(
        self, data, field: str, limit: int, expr: str, params: dict
    ) -> tuple[np.ndarray, np.ndarray]:
        hits = self.client.search(
            self._name("chunks"),
            data=[data],
            anns_field=field,
            limit=min(limit, TOPK),
            filter=expr,
            search_params=params,
            output_fields=["row"],
        )[0]
        return (
            np.array([h["row"] for h in hits], dtype=np.int64),
            np.array([h["distance"] for h in hits], dtype=np.float32),
        )

    def dense(self, query, depth, filters):
        if not self.n:
            return EMPTY
        return self._search(
            np.asarray(query, dtype=np.float32).tolist(),
            "embedding",
            depth,
            self._filter(filters),
            {"metric_type": "IP", "params": {"ef": min(TOPK, max(64, 2 * depth))}},
        )

    def dense_many(self, queries, depth):
        return [self.dense(q, depth, None) for q in queries]

    def keyword(self, tokens, depth, filters, rows=None):
        """Milvus' BM25; for given candidate ``rows`` their scores within the top matches of the
        whole index (filtering by row would make Milvus count document frequencies over them
        only)."""
        text = _words(tokens)
        if not text or not self.n:
            return EMPTY
        limit = depth if rows is None else max(1000, 10 * len(rows))
        found, scores = self._search(
            text, "sparse", limit, self._filter(filters), {"metric_type": "BM25"}
        )
        # Milvus Lite reports BM25 as a negative distance, and Milvus' formula has bm25s' times (k1
        # + 1).
        scores = np.abs(scores) / (1.5 + 1)
        if rows is None:
            return found, scores
        at = dict(zip(found.tolist(), scores.tolist()))
        keep = [int(r) for r in rows if int(r) in at]
        return np.array(keep, dtype=np.int64), np.array([at[r] for r in keep], dtype=np.float32)

    def fetch(self, rows):
        ids = [int(r) for r in rows]
        found = {
            r["row"]: r
            for r in self.client.get(
                self._name("chunks"), ids=ids, output_fields=CHUNK_FIELDS + ["embedding"]
            )
        }
        chunks = [Chunk(*(found[r][f] for f in CHUNK_FIELDS[1:])) for r in ids]
        articles = self._articles({c.article_key for c in chunks})
        vectors = np.array([found[r]["embedding"] for r in ids], dtype=np.float32).reshape(
            len(ids), -1
        )
        return chunks, [articles[c.article_key] for c in chunks], vectors

    def _articles(self, keys) -> dict[str, Article]:
        pieces: dict[str, list[dict]] = {}
        for keys_batch in _batches(sorted(keys)):
            for r in self._query(
                "articles", f"key in {_quoted(keys_batch)}", ARTICLE_FIELDS + ["part", "text"], True
            ):
                pieces.setdefault(r["key"], []).append(r)
        out = {}
        for key, parts in pieces.items():
            parts.sort(key=lambda r: r["part"])
            first = parts[0]
            out[key] = Article(
                key,
                first["source"],
                first["title"],
                first["published"],
                first["outlet"],
                "".join(p["text"] for p in parts),
                first["content_hash"],
            )
        return out

    def windows(self, rows):
        """Each row's article chunks: the rows' articles' chunks in one call (one call per
        passage would cost ~25 ms each on Milvus Lite)."""
        ids = [int(r) for r in rows]
        if not ids:
            return []
        keys = {
            r["row"]: r["article_key"]
            for r in self.client.get(self._name("chunks"), ids=ids, output_fields=["article_key"])
        }
        layout: dict[str, list[dict]] = {}
        for r in self._query(
            "chunks", f"article_key in {_quoted(set(keys.values()))}", CHUNK_FIELDS, True
        ):
            layout.setdefault(r["article_key"], []).append(r)
        articles = self._articles(set(keys.values()))
        out = []
        for row in ids:
            found = sorted(layout[keys[row]], key=lambda r: r["position"])
            chunks = [Chunk(*(r[f] for f in CHUNK_FIELDS[1:])) for r in found]
            at = next(i for i, r in enumerate(found) if r["row"] == row)
            out.append(Window(articles[keys[row]], chunks, at))
        return out

    def sentence_vectors(self, keys):
        out = {}
        for batch in _batches(list(dict.fromkeys(keys))):
            for r in self._query(
                "sentences", f"key in {_quoted(batch)}", ["key", "embedding"], True
            ):
                out[r["key"]] = np.asarray(r["embedding"], dtype=np.float32)
        return out

    def catalog(self):
        return {
            r["key"]: (r["content_hash"], r["source"])
            for r in self._query("articles", "part == 0", ["key", "content_hash", "source"])
        }

    def chunk_vectors(self, text_keys):
        out = {}
        for batch in _batches(sorted(text_keys)):
            for r in self._query(
                "chunks", f"text_key in {_quoted(batch)}", ["text_key", "embedding", "tokens"]
            ):
                out[r["text_key"]] = (
                    np.asarray(r["embedding"], dtype=np.float32),
                    json.loads(r["tokens"]),
                )
        return out

    def export(self) -> Changes:
        keys = sorted(self.catalog())
        articles = self._articles(keys)
        found = sorted(
            self._query("chunks", "", CHUNK_FIELDS + ["tokens", "embedding"]),
            key=lambda r: (r["article_key"], r["position"]),
        )
        sentences: dict[str, dict[str, np.ndarray]] = {k: {} for k in keys}
        for r in self._query("sentences", "", ["article_key", "key", "embedding"]):
            sentences.setdefault(r["article_key"], {})[r["key"]] = np.asarray(
                r["embedding"], dtype=np.float32
            )
        vectors = np.array([r["embedding"] for r in found], dtype=np.float32).reshape(
            len(found), self.manifest.dim
        )
        manifest = replace(self.manifest, articles={k: articles[k].content_hash for k in keys})
        return Changes(
            manifest,
            [articles[k] for k in keys],
            [],
            [Chunk(*(r[f] for f in CHUNK_FIELDS[1:])) for r in found],
            [json.loads(r["tokens"]) for r in found],
            vectors,
            sentences,
            rebuild=True,
        )


def _meta_schema(client, dim: int):
    from pymilvus import DataType

    s = client.create_schema(auto_id=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("manifest", DataType.VARCHAR, max_length=65535)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector in every collection
    return s, [("v", "FLAT", "L2", {})]


def _articles_schema(client, dim: int):
    from pymilvus import DataType

    s = client.create_schema(auto_id=False)
    s.add_field("pk", DataType.VARCHAR, max_length=8192, is_primary=True)
    for name in ARTICLE_FIELDS:
        s.add_field(name, DataType.VARCHAR, max_length=4096)
    s.add_field("part", DataType.INT64)
    s.add_field("text", DataType.VARCHAR, max_length=65535)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    return s, [("v", "FLAT", "L2", {})]


def _chunks_schema(client, dim: int):
    """Chunks with their article's filter fields, the Kiwi tokens as words for Milvus' BM25
    function, and the embedding (HNSW, inner product)."""
    from pymilvus import DataType, Function, FunctionType

    s = client.create_schema(auto_id=True)
    s.add_field("row", DataType.INT64, is_primary=True)
    lengths = {
        "id": 256,
        "article_key": 4096,
        "text_key": 64,
        "source": 1024,
        "outlet": 1024,
        "published": 64,
        "text": 65535,
    }
    for name, length in lengths.items():
        s.add_field(name, DataType.VARCHAR, max_length=length)
    for name in ("position", "start_pos", "end_pos", "n_tokens"):
        s.add_field(name, DataType.INT64)
    s.add_field("tokens", DataType.VARCHAR, max_length=65535)  # the Kiwi tokens, JSON
    s.add_field(
        "keywords",
        DataType.VARCHAR,
        max_length=65535,
        enable_analyzer=True,
        analyzer_params={"type": "standard"},
    )
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
    s.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["keywords"],
            output_field_names=["sparse"],
        )
    )
    return s, [
        ("embedding", "HNSW", "IP", {"M": 16, "efConstruction": 200}),
        ("sparse", "SPARSE_INVERTED_INDEX", "BM25", {"bm25_k1": 1.5, "bm25_b": 0.75}),
    ]


def _sentences_schema(client, dim: int):
    from pymilvus import DataType

    s = client.create_schema(auto_id=True)
    s.add_field("pk", DataType.INT64, is_primary=True)
    s.add_field("article_key", DataType.VARCHAR, max_length=4096)
    s.add_field("key", DataType.VARCHAR, max_length=64)
    s.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
    return s, [("embedding", "FLAT", "IP", {})]


def _article_pieces(articles: list[Article]) -> list[dict]:
    """Article rows, the text in pieces that fit a VARCHAR."""
    return [
        {
            "pk": f"{a.key}#{i}",
            **{f: getattr(a, f) for f in ARTICLE_FIELDS},
            "part": i,
            "text": a.text[i * PIECE : (i + 1) * PIECE],
            "v": [0.0, 0.0],
        }
        for a in articles
        for i in range(max(1, -(-len(a.text) // PIECE)))
    ]


def _chunk_rows(changes: Changes) -> list[dict]:
    articles = {a.key: a for a in changes.articles}
    return [
        {
            "id": ch.id,
            "article_key": ch.article_key,
            "text_key": text_key(ch.text),
            "source": articles[ch.article_key].source,
            "outlet": articles[ch.article_key].outlet,
            "published": articles[ch.article_key].published,
            "text": ch.text,
            "position": ch.index,
            "start_pos": ch.start,
            "end_pos": ch.end,
            "n_tokens": ch.tokens,
            "keywords": _words(tokens),
            "tokens": json.dumps(tokens, ensure_ascii=False),
            "embedding": np.asarray(v, dtype=np.float32).tolist(),
        }
        for ch, tokens, v in zip(changes.chunks, changes.tokens, changes.vectors)
    ]
