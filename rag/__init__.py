"""Cited-answer retrieval over Korean (and English) news articles, offline.

    >>> import rag
    >>> settings = rag.load_settings({"index_dir": "vectorstore"})
    >>> rag.ingest([Path("my-articles")], settings).summary()
    >>> answer = rag.ask("전작권 전환 검증은 언제까지 추진하나?", settings)
    >>> answer.answer, answer.citations[0].source

The stages, one module (or package) each, in data-flow order:

    articles     files → Article (decode, clean, title/date/outlet)
    chunking     Article → Chunks and evidence sentences
    keywords     text → Kiwi content morphemes, and the BM25 index over them
    kiwi         the Kiwi analyser, in this process or (a cold one-question command) a helper
    embeddings   text → vectors (the Embedder protocol and its runners)
    stores       where an index lives: the Store protocol; faiss, pgvector, milvus
    indexing     ingest() in named steps, migrate(), open_index()
    retrieve     query → ranked Passages (hybrid search, MMR, context windows)
    answering    Passages → a cited Answer (compose, cite, llm, ask)
    eval         suites, metrics and reports (`rag eval`); bench: benchmarks (`rag bench`)
    cli, web, adapters   the `rag` command, the Chainlit chat, LangChain interfaces

Glossary (one name per concept):

    Article    one cleaned news article; its ``key`` is its file's resolved path
    Chunk      a sentence-aligned span of an article, the unit that is ranked
    evidence sentence   a sentence of an article an answer may quote; embedded at ingest
    text key   the hash of a text: how a chunk's or a sentence's vector is found again
    Store      an index in one engine (FAISS files, PostgreSQL, Milvus); a loaded Store searches
    Manifest   what shaped an index (model, chunking, analyser); another one is refused
    Changes    one ingest's write to a store
    Passage    a ranked chunk grown into its context window, with its scores
    claim      a sentence of an answer, with the ``[n]`` markers it cites
    Citation   what ``[n]`` resolves to: the passage and the verbatim sentence quoted
    Answer     the answer text, its citations and passages, or an abstention

Nothing heavy loads at import: models, Kiwi and indexes load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Answer", "Settings", "ask", "ingest", "load_settings", "search"]

if TYPE_CHECKING:
    from .answering import Answer, ask
    from .indexing import ingest
    from .retrieve import search
    from .settings import Settings, load_settings

_HOMES = {
    "Answer": "answering",
    "ask": "answering",
    "ingest": "indexing",
    "search": "retrieve",
    "Settings": "settings",
    "load_settings": "settings",
}


def __getattr__(name: str):
    """The public API, imported on first use (``import rag`` stays light)."""
    if name not in _HOMES:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
