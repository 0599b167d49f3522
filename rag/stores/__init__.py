"""Where an index lives: one ``Store`` contract, three engines.

``faiss`` (files in a folder, the embedded default), ``pgvector`` (PostgreSQL with pgvector)
and ``milvus`` (a Milvus server) each implement ``Store``; retrieval, answering, ingest,
migration and the benchmarks reach an index through it only, so fusion, MMR, context windows
and answers are the same code on every engine.

    >>> store = store_for(settings)            # where the settings say the index lives
    >>> index = store.load(expected_manifest)  # a loaded index, ready to search
    >>> with store.writing():                  # one writer at a time
    ...     store.apply(changes)

Rows are integers that a store hands out and takes back; nothing else is assumed about them.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from ..articles import Article
from ..chunking import Chunk
from ..errors import BadInput, IndexIncompatible
from ..settings import Settings

# 2 added the sentence table (format 1 still loads, without it); 3 moved the chunks' keyword
# tokens out of the chunk table into a file of their own (format 2 still loads)
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)
ENGINES = ("faiss", "pgvector", "milvus")


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
    """One ingest's changes to a store, applied as one write: ``articles`` are new or changed
    (replacing any previous version with their chunks and sentences), ``removed`` are keys to
    drop. ``rebuild`` drops everything else first (a full rebuild or a migration)."""

    manifest: Manifest
    articles: list[Article]
    removed: list[str]
    chunks: list[Chunk]  # of ``articles``, in article order
    tokens: list[list[str]]  # keyword tokens, one list per chunk
    vectors: np.ndarray  # one row per chunk
    sentences: dict[str, dict[str, np.ndarray]]  # article key -> sentence key -> vector
    rebuild: bool = False


@dataclass(frozen=True)
class Window:
    """A chunk among its article's chunks, in order: what a context window is grown from."""

    article: Article
    chunks: list[Chunk]
    at: int  # the chunk's position in ``chunks``


class Store(Protocol):
    """An index, wherever it lives. Filters (``retrieve.Filters``) are applied by the store.

    The writing side: ``load`` the index (refusing one built with other settings), ``writing``
    holds the one-writer lock, ``apply`` writes one ingest's ``Changes``, ``export`` reads
    everything back as one rebuilding ``Changes`` (a migration). The search side: dense and
    keyword candidates with scores (``dense_many``: many queries at once, unfiltered), rows
    with their vectors, and windows of neighbouring chunks; ``rows`` lists every row (for
    benchmarks that score every chunk).
    The ingest side: the catalog of article hashes and vectors already held, by text key."""

    manifest: Manifest
    where: str  # the index's address, for messages and to tell two stores apart

    def load(self, expected: Manifest | None = None) -> Store: ...
    def writing(self) -> AbstractContextManager: ...
    def apply(self, changes: Changes) -> int: ...
    def export(self) -> Changes: ...
    def size(self) -> int: ...
    def rows(self) -> np.ndarray: ...
    def dense(self, query: np.ndarray, depth: int, filters) -> tuple[np.ndarray, np.ndarray]: ...
    def dense_many(
        self, queries: np.ndarray, depth: int
    ) -> list[tuple[np.ndarray, np.ndarray]]: ...
    def keyword(
        self, tokens: list[str], depth: int, filters, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def fetch(self, rows: np.ndarray) -> tuple[list[Chunk], list[Article], np.ndarray]: ...
    def windows(self, rows: list[int]) -> list[Window]: ...
    def sentence_vectors(self, keys: list[str]) -> dict[str, np.ndarray]: ...
    def catalog(self) -> dict[str, tuple[str, str]]: ...
    def chunk_vectors(self, text_keys: set[str]) -> dict[str, tuple[np.ndarray, list[str]]]: ...


EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def text_key(text: str) -> str:
    """The key a chunk's or sentence's vector is found by: the hash of its text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def matches(article: Article, filters) -> bool:
    """Whether an article passes ``retrieve.Filters`` (dates compare as ISO strings)."""
    if not filters:
        return True
    if filters.sources and article.source not in filters.sources:
        return False
    if filters.outlets and article.outlet not in filters.outlets:
        return False
    published = article.published
    if filters.date_from and not (published and published >= filters.date_from):
        return False
    return not filters.date_to or bool(
        published and published[: len(filters.date_to)] <= filters.date_to
    )


def check_compatible(manifest: Manifest, expected: Manifest, where) -> None:
    """Refuse an index built with another format, model or chunking, saying how to rebuild."""
    rebuild = f"rebuild it: rag ingest --rebuild --index {where}"
    if manifest.format_version > FORMAT_VERSION:
        raise newer_format(manifest.format_version, where)
    if manifest.format_version not in READABLE_FORMATS:
        raise IndexIncompatible(
            f"index at {where} has old format {manifest.format_version}", rebuild
        )
    if manifest.embedding_model != expected.embedding_model:
        raise IndexIncompatible(
            f"index at {where} was built with embedding model {manifest.embedding_model!r}, "
            f"but the settings name {expected.embedding_model!r}",
            f"set embedding_model back, or {rebuild}",
        )
    if manifest.chunking != expected.chunking:
        raise IndexIncompatible(
            f"index at {where} was built with other chunk settings {manifest.chunking} "
            f"(now {expected.chunking})",
            f"restore the settings, or {rebuild}",
        )
    if manifest.keyword_analyzer != expected.keyword_analyzer:
        raise IndexIncompatible(
            f"index at {where} holds keywords from analyzer {manifest.keyword_analyzer!r}; this "
            f"version of rag analyses text with {expected.keyword_analyzer!r}",
            rebuild,
        )


def newer_format(version: int, where) -> IndexIncompatible:
    return IndexIncompatible(
        f"index at {where} has format {version}, newer than this version of rag understands "
        f"({FORMAT_VERSION})",
        f"upgrade rag, or rebuild it: rag ingest --rebuild --index {where}",
    )


def store_for(settings: Settings) -> Store:
    """The store ``settings.store`` names (not loaded: ``load`` it to search)."""
    if settings.store == "faiss":
        from .faiss import FaissStore

        return FaissStore(Path(settings.index_dir), settings.ivf_from, settings.ivf_nprobe)
    if settings.store == "pgvector":
        from .pgvector import PgStore

        return PgStore.connect(settings.store_url, settings.store_collection)
    if settings.store == "milvus":
        from .milvus import MilvusStore

        return MilvusStore.connect(settings.store_url, settings.store_collection)
    raise BadInput(f"unknown store {settings.store!r}", f"set store to one of {', '.join(ENGINES)}")


def settings_for_url(settings: Settings, url: str, collection: str | None = None) -> Settings:
    """``settings`` pointed at the store a URL names: postgresql://…, milvus:// or http://host:port
    (Milvus), or a folder (FAISS files)."""
    collection = collection or settings.store_collection
    if re.match(r"postgres(ql)?(\+\w+)?://", url):
        return replace(settings, store="pgvector", store_url=url, store_collection=collection)
    if re.match(r"(milvus|https?)://", url):
        return replace(settings, store="milvus", store_url=url, store_collection=collection)
    if "://" in url and not url.startswith("file://"):
        raise BadInput(
            f"cannot tell which store {url!r} is",
            "give a postgresql://, milvus:// or http:// URL, or a folder",
        )
    return replace(settings, store="faiss", index_dir=Path(url.removeprefix("file://")))
