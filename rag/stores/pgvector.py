"""The index in PostgreSQL with pgvector: the same ``Store`` as the FAISS files, for an
archive that outgrows one machine (replicas, Citus, a managed service), chosen by ``store``.

One schema per index (``store_collection``)::

    meta       the manifest and the BM25 statistics (chunks, keyword tokens)
    articles   key, source, title, published, outlet, content_hash, text
    chunks     row (bigserial), the chunk, its Kiwi keyword tokens, a ``tsvector`` of exactly those
               tokens (GIN index) and ``embedding vector(dim)`` (HNSW, inner product)
    sentences  evidence-sentence vectors per article (see ``faiss.SentenceTable``)

Chunks and sentences go with their article (``ON DELETE CASCADE``). Filters are a ``WHERE`` on
the article; dense search is pgvector's ``<#>``; keyword search finds chunks through the GIN
index and scores them with BM25 in SQL (bm25s' Lucene formula, k1 1.5, b 0.75, from the
tsvector's term counts), so the fused ranking is the FAISS default's. The tsvector is written as
a literal, not parsed by a text-search configuration: Kiwi's tokens are kept whole (with its
multi-word dictionary, loaded until analyser v3, it returned names with a space, "알렉산더
헤이그", which the 'simple' parser would split, and then BM25 no longer agreed with FAISS: 2
points of answer@1 on a KorQuAD sample). An ingest is one transaction under an advisory lock: a
crash or a second writer leaves the previous index.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from collections import Counter
from dataclasses import asdict

import numpy as np

from ..articles import Article
from ..chunking import Chunk
from ..errors import BadInput, IndexBusy, IndexMissing, StoreUnavailable
from . import EMPTY, Changes, Manifest, Window, check_compatible, text_key

K1, B = 1.5, 0.75  # bm25s' defaults, the FAISS store's keyword index


def _redacted(url: str) -> str:
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


class PgStore:
    """An index in one schema of a PostgreSQL database with the pgvector extension."""

    def __init__(self, url: str, collection: str):
        if not url:
            raise BadInput(
                "store is 'pgvector' but store_url is empty",
                "set store_url, e.g. RAG_STORE_URL=postgresql://user@host:5432/news",
            )
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", collection):
            raise BadInput(
                f"store_collection {collection!r} is not a plain lower-case name",
                "use letters, digits and _ (it becomes a PostgreSQL schema)",
            )
        self.url = re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)
        self.s = collection
        self.where = f"{_redacted(url)} (collection {collection})"
        self.manifest: Manifest | None = None
        self.n, self.avgdl = 0, 1.0
        self._local = threading.local()
        self._writer = None

    @classmethod
    @functools.lru_cache(maxsize=8)
    def connect(cls, url: str, collection: str) -> "PgStore":
        """One store object per URL and collection in a process (connections are per thread)."""
        return cls(url, collection)

    # Connections and queries.
    def _open(self):
        import psycopg

        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise StoreUnavailable(
                f"cannot connect to PostgreSQL at {_redacted(self.url)} ({str(e).strip()[:200]})",
                "start the server or fix store_url",
            ) from None
        if conn.execute("SELECT 1 FROM pg_type WHERE typname = 'vector'").fetchone():
            from pgvector.psycopg import register_vector

            register_vector(conn)
        return conn

    def _conn(self):
        if self._writer is not None:
            return self._writer
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self._open()
        return conn

    def _rows(self, sql: str, params=None) -> list[tuple]:
        import psycopg

        try:
            return self._conn().execute(sql.replace("{s}", self.s), params).fetchall()
        except psycopg.errors.UndefinedTable:
            raise IndexMissing(
                f"no index at {self.where}",
                "build one: rag ingest [PATH ...] with the same store settings",
            ) from None
        except psycopg.OperationalError as e:
            self._local.conn = None
            raise StoreUnavailable(
                f"PostgreSQL at {_redacted(self.url)} failed ({str(e).strip()[:200]})",
                "check the server, then try again",
            ) from None

    def load(self, expected: Manifest | None = None) -> "PgStore":
        """Read the manifest and statistics (refusing an index built with other settings)."""
        found = self._rows("SELECT manifest, chunks, tokens FROM {s}.meta WHERE id = 1")
        if not found:
            raise IndexMissing(
                f"no index at {self.where}",
                "build one: rag ingest [PATH ...] with the same store settings",
            )
        raw, n, tokens = found[0]
        manifest = Manifest(**raw)
        if expected is not None:
            check_compatible(manifest, expected, self.where)
        self.manifest, self.n, self.avgdl = (
            manifest,
            int(n),
            max(float(tokens) / max(int(n), 1), 1e-9),
        )
        return self

    # Writing.
    @contextlib.contextmanager
    def writing(self):
        """One writer per collection (a PostgreSQL advisory lock); a second is refused clearly."""
        conn = self._open()
        try:
            if not conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", [f"rag:{self.s}"]
            ).fetchone()[0]:
                raise IndexBusy(
                    f"another process is writing the index at {self.where}",
                    "wait for that ingest to finish, then run this again",
                )
            self._writer = conn
            yield
        finally:
            self._writer = None
            conn.close()

    def apply(self, changes: Changes) -> int:
        """Apply one ingest's changes in one transaction; returns the number of chunks."""
        from pgvector.psycopg import register_vector

        conn, s = self._writer, self.s
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            register_vector(conn)
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            if changes.rebuild:
                conn.execute(
                    f"DROP TABLE IF EXISTS {s}.sentences, {s}.chunks, {s}.articles, {s}.meta"
                )
            for statement in _schema(s, changes.manifest.dim):
                conn.execute(statement)
            gone = list(changes.removed) + [a.key for a in changes.articles]
            conn.execute(f"DELETE FROM {s}.articles WHERE key = ANY(%s)", [gone])
            _copy_rows(conn, s, changes)
            for statement in _indexes(s):
                conn.execute(statement)
            n, tokens = conn.execute(
                f"SELECT count(*), coalesce(sum(n_keywords), 0) FROM {s}.chunks"
            ).fetchone()
            conn.execute(
                f"INSERT INTO {s}.meta (id, manifest, chunks, tokens) VALUES (1, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET manifest = EXCLUDED.manifest, "
                "chunks = EXCLUDED.chunks, tokens = EXCLUDED.tokens",
                [json.dumps(asdict(changes.manifest), ensure_ascii=False), n, tokens],
            )
        conn.execute(f"ANALYZE {s}.chunks")
        return int(n)

    def drop(self) -> None:
        """Remove this index (its schema) from the database."""
        self._conn().execute(f"DROP SCHEMA IF EXISTS {self.s} CASCADE")

    # The Store protocol.
    def size(self) -> int:
        return self.n

    def rows(self) -> np.ndarray:
        return np.array(
            [r[0] for r in self._rows("SELECT row FROM {s}.chunks ORDER BY row")], dtype=np.int64
        )

    def _filter(self, filters) -> tuple[str, str, dict]:
        """(join, conditions, parameters) for ``retrieve.Filters``; dates compare as ISO strings."""
        if not filters or not filters.active():
            return "", "", {}
        conds, params = [], {}
        if filters.sources:
            conds.append("a.source = ANY(%(sources)s)")
            params["sources"] = list(filters.sources)
        if filters.outlets:
            conds.append("a.outlet = ANY(%(outlets)s)")
            params["outlets"] = list(filters.outlets)
        if filters.date_from:
            conds.append("a.published <> '' AND a.published COLLATE \"C\" >= %(date_from)s")
            params["date_from"] = filters.date_from
        if filters.date_to:
            conds.append(
                "a.published <> '' AND left(a.published, %(date_len)s) COLLATE \"C\" <= %(date_to)s"
            )
            params.update(date_to=filters.date_to, date_len=len(filters.date_to))
        return "JOIN {s}.articles a ON a.key = c.article_key", " AND " + " AND ".join(conds), params

    def dense(self, query, depth, filters):
        join, conds, params = self._filter(filters)
        sql = (
            f"SELECT c.row, -(c.embedding <#> %(q)s) FROM {{s}}.chunks c {join} WHERE true {conds} "
            "ORDER BY c.embedding <#> %(q)s LIMIT %(depth)s"
        )
        params.update(q=np.asarray(query, dtype=np.float32), depth=depth)
        conn = self._conn()
        conn.execute(f"SET hnsw.ef_search = {min(1000, max(40, 2 * depth))}")
        found = self._rows(sql, params)
        if (
            conds and len(found) < depth
        ):  # HNSW filters after its scan: read the filtered rows exactly
            with conn.transaction():
                conn.execute("SET LOCAL enable_indexscan = off")
                found = self._rows(sql, params)
        return _arrays(found)

    def dense_many(self, queries, depth):
        return [self.dense(q, depth, None) for q in queries]

    def keyword(self, tokens, depth, filters, rows=None):
        join, conds, params = self._filter(filters)
        if rows is not None:
            conds += " AND c.row = ANY(%(rows)s)"
            params["rows"] = [int(r) for r in rows]
            depth = len(rows)
        # a repeated query token counts as often as it is repeated, as in bm25s
        counts = Counter(tokens)
        if not counts:
            return EMPTY
        sql = f"""
            WITH q AS (SELECT * FROM
                       unnest(%(terms)s::text[], %(qtf)s::int[], %(single)s::tsquery[])
                       AS q(term, qtf, single)),
                 w AS (SELECT q.term, q.qtf * ln(1 + (%(n)s - d.df + 0.5) / (d.df + 0.5)) AS idf
                       FROM q CROSS JOIN LATERAL
                       (SELECT count(*) AS df FROM {{s}}.chunks WHERE tsv @@ q.single) d),
                 hit AS (SELECT c.row, c.tsv, c.n_keywords FROM {{s}}.chunks c {join}
                         WHERE c.tsv @@ %(query)s::tsquery {conds})
            SELECT hit.row, sum(w.idf * cardinality(u.positions) / (cardinality(u.positions)
                                + {K1} * (1 - {B} + {B} * hit.n_keywords / %(avgdl)s)))
            FROM hit CROSS JOIN LATERAL unnest(hit.tsv) u JOIN w ON w.term = u.lexeme
            GROUP BY hit.row ORDER BY 2 DESC LIMIT %(depth)s"""
        terms = list(counts)
        params.update(
            terms=terms,
            qtf=[counts[t] for t in terms],
            single=[_quoted(t) for t in terms],
            query=" | ".join(_quoted(t) for t in terms),
            n=self.n,
            avgdl=self.avgdl,
            depth=depth,
        )
        return _arrays(self._rows(sql, params))

    def fetch(self, rows):
        found = {
            r[0]: r[1:]
            for r in self._rows(
                "SELECT row, id, article_key, position, start_pos, end_pos, text, n_tokens, "
                "embedding "
                "FROM {s}.chunks WHERE row = ANY(%s)",
                [[int(r) for r in rows]],
            )
        }
        chunks = [Chunk(*found[int(r)][:7]) for r in rows]
        articles = self._articles({c.article_key for c in chunks})
        vectors = (
            np.vstack([np.asarray(found[int(r)][7], dtype=np.float32) for r in rows])
            if len(rows)
            else np.zeros((0, self.manifest.dim), dtype=np.float32)
        )
        return chunks, [articles[c.article_key] for c in chunks], vectors

    def _articles(self, keys) -> dict[str, Article]:
        return {
            r[0]: Article(*r)
            for r in self._rows(
                "SELECT key, source, title, published, outlet, text, content_hash FROM "
                "{s}.articles WHERE key = ANY(%s)",
                [list(keys)],
            )
        }

    def windows(self, rows):
        """Each row's article chunks, for all rows in one query."""
        wanted = [int(r) for r in rows]
        found = self._rows(
            "SELECT c.row, n.row, n.id, n.article_key, n.position, n.start_pos, n.end_pos, "
            "n.text, n.n_tokens "
            "FROM {s}.chunks c JOIN {s}.chunks n ON n.article_key = c.article_key "
            "WHERE c.row = ANY(%s) ORDER BY c.row, n.position",
            [wanted],
        )
        layout: dict[int, list[tuple]] = {}
        for r in found:
            layout.setdefault(r[0], []).append(r[1:])
        articles = self._articles({layout[r][0][2] for r in wanted})
        out = []
        for r in wanted:
            chunks = [Chunk(*n[1:]) for n in layout[r]]
            at = next(i for i, n in enumerate(layout[r]) if n[0] == r)
            out.append(Window(articles[chunks[0].article_key], chunks, at))
        return out

    def sentence_vectors(self, keys):
        if not keys:
            return {}
        return {
            k: np.asarray(v, dtype=np.float32)
            for k, v in self._rows(
                "SELECT DISTINCT ON (key) key, embedding FROM {s}.sentences WHERE key = ANY(%s)",
                [list(keys)],
            )
        }

    def catalog(self):
        return {
            k: (h, s)
            for k, h, s in self._rows("SELECT key, content_hash, source FROM {s}.articles")
        }

    def chunk_vectors(self, text_keys):
        if not text_keys:
            return {}
        return {
            k: (np.asarray(v, dtype=np.float32), list(tokens))
            for k, v, tokens in self._rows(
                "SELECT DISTINCT ON (text_key) text_key, embedding, tokens FROM {s}.chunks WHERE "
                "text_key = ANY(%s)",
                [list(text_keys)],
            )
        }

    def export(self) -> Changes:
        """Everything, as one rebuilding ``Changes`` (for ``rag index migrate``)."""
        articles = [
            Article(*r)
            for r in self._rows(
                "SELECT key, source, title, published, outlet, text, content_hash FROM "
                "{s}.articles ORDER BY key"
            )
        ]
        found = self._rows(
            "SELECT id, article_key, position, start_pos, end_pos, text, n_tokens, tokens, "
            "embedding "
            "FROM {s}.chunks ORDER BY article_key, position"
        )
        sentences: dict[str, dict[str, np.ndarray]] = {a.key: {} for a in articles}
        for article_key, key, v in self._rows(
            "SELECT article_key, key, embedding FROM {s}.sentences"
        ):
            sentences[article_key][key] = np.asarray(v, dtype=np.float32)
        vectors = (
            np.vstack([np.asarray(r[8], dtype=np.float32) for r in found])
            if found
            else np.zeros((0, self.manifest.dim), dtype=np.float32)
        )
        return Changes(
            self.manifest,
            articles,
            [],
            [Chunk(*r[:7]) for r in found],
            [list(r[7]) for r in found],
            vectors,
            sentences,
            rebuild=True,
        )


CHUNK_COLUMNS = {
    "id": "text",
    "article_key": "text",
    "position": "int4",
    "start_pos": "int4",
    "end_pos": "int4",
    "text": "text",
    "n_tokens": "int4",
    "tokens": "text[]",
    "keywords": "text",
    "n_keywords": "int4",
    "text_key": "text",
    "embedding": "vector",
}


def _copy_rows(conn, s: str, changes: Changes) -> None:
    """The changed articles, their chunks and their sentences, by COPY."""
    columns = "key, source, title, published, outlet, text, content_hash"
    with conn.cursor().copy(f"COPY {s}.articles ({columns}) FROM STDIN") as copy:
        for a in changes.articles:
            copy.write_row(
                [a.key, a.source, a.title, a.published, a.outlet, a.text, a.content_hash]
            )
    columns = ", ".join(CHUNK_COLUMNS)
    with conn.cursor().copy(f"COPY {s}.chunks ({columns}) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(list(CHUNK_COLUMNS.values()))
        for c, tokens, v in zip(changes.chunks, changes.tokens, changes.vectors):
            copy.write_row(
                [
                    c.id,
                    c.article_key,
                    c.index,
                    c.start,
                    c.end,
                    c.text,
                    c.tokens,
                    list(tokens),
                    tsvector(tokens),
                    len(tokens),
                    text_key(c.text),
                    np.asarray(v, dtype=np.float32),
                ]
            )
    columns = "article_key, key, embedding"
    with conn.cursor().copy(
        f"COPY {s}.sentences ({columns}) FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", "text", "vector"])
        for article_key, vectors in changes.sentences.items():
            for key, v in vectors.items():
                copy.write_row([article_key, key, np.asarray(v, dtype=np.float32)])


def _quoted(token: str) -> str:
    """A token as a tsvector/tsquery lexeme literal: taken whole, never parsed."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector(tokens: list[str]) -> str:
    """The tsvector literal of a token list: each distinct token with its positions (1-based),
    so that a lexeme's term frequency is the number of times Kiwi found it."""
    positions: dict[str, list[int]] = {}
    for i, t in enumerate(tokens, 1):
        positions.setdefault(t, []).append(min(i, 16383))
    return " ".join(f"{_quoted(t)}:{','.join(map(str, p[:256]))}" for t, p in positions.items())


def _arrays(found: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([r[0] for r in found], dtype=np.int64),
        np.array([r[1] for r in found], dtype=np.float32),
    )


def _schema(s: str, dim: int) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {s}.meta (id int PRIMARY KEY, manifest jsonb NOT NULL, "
        "chunks bigint, tokens bigint)",
        f"""CREATE TABLE IF NOT EXISTS {s}.articles (key text PRIMARY KEY, source text NOT NULL,
            title text, published text, outlet text, text text NOT NULL,
            content_hash text NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS {s}.chunks (row bigserial PRIMARY KEY, id text NOT NULL,
            article_key text NOT NULL REFERENCES {s}.articles (key) ON DELETE CASCADE,
            position int NOT NULL, start_pos int NOT NULL, end_pos int NOT NULL, text text NOT NULL,
            n_tokens int NOT NULL, tokens text[] NOT NULL, keywords text NOT NULL,
            n_keywords int NOT NULL,
            text_key text NOT NULL, tsv tsvector GENERATED ALWAYS AS (keywords::tsvector) STORED,
            embedding vector({dim}) NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS {s}.sentences (article_key text NOT NULL
            REFERENCES {s}.articles (key) ON DELETE CASCADE, key text NOT NULL,
            embedding vector({dim}) NOT NULL, PRIMARY KEY (article_key, key))""",
    ]


def _indexes(s: str) -> list[str]:
    return [
        f"CREATE INDEX IF NOT EXISTS chunks_embedding ON {s}.chunks USING hnsw (embedding "
        "vector_ip_ops)",
        f"CREATE INDEX IF NOT EXISTS chunks_tsv ON {s}.chunks USING gin (tsv)",
        f"CREATE INDEX IF NOT EXISTS chunks_article ON {s}.chunks (article_key, position)",
        f"CREATE INDEX IF NOT EXISTS chunks_text_key ON {s}.chunks (text_key)",
        f"CREATE INDEX IF NOT EXISTS sentences_key ON {s}.sentences (key)",
        f"CREATE INDEX IF NOT EXISTS articles_source ON {s}.articles (source)",
        f"CREATE INDEX IF NOT EXISTS articles_published ON {s}.articles (published)",
    ]
