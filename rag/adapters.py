"""LangChain interfaces over the project's own parts, so users' LangChain code plugs in.

    >>> retriever = retriever_for(load_settings())
    >>> retriever.invoke("전작권 전환")[0].metadata["title"]

Imported only when asked for: LangChain is not loaded by the CLI's other commands.
"""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .embeddings import Embedder, get_embedder
from .settings import Settings


class EmbedderEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over any project Embedder (e5 prefixes applied by it)."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()


def embeddings_for(settings: Settings) -> EmbedderEmbeddings:
    return EmbedderEmbeddings(get_embedder(settings))


class HybridRetriever(BaseRetriever):
    """LangChain ``BaseRetriever`` over the hybrid search (dense + Kiwi-BM25, fused, MMR)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    settings: Settings
    k: int | None = None
    filters: object = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        from .retrieve import search

        hits = search(query, self.settings, k=self.k, filters=self.filters)
        return [
            Document(
                page_content=p.text,
                id=p.chunk_id,
                metadata={k: v for k, v in p.__dict__.items() if k != "text"},
            )
            for p in hits
        ]


def retriever_for(settings: Settings, k: int | None = None, filters=None) -> HybridRetriever:
    return HybridRetriever(settings=settings, k=k, filters=filters)
