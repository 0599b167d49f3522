"""Any sentence-transformers model, run by PyTorch (a model id or a local folder)."""

from __future__ import annotations

import functools
import os

import numpy as np

from ..errors import RagError
from .base import BaseEmbedder, one_blas_thread


class SentenceTransformerEmbedder(BaseEmbedder):
    """Any sentence-transformers model, run by PyTorch; e5 prefixes when the model is an e5."""

    @functools.cached_property
    def model(self):
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        torch.set_num_threads(os.cpu_count() or 1)
        one_blas_thread()
        try:
            model = SentenceTransformer(self.model_name, device="cpu")
        except OSError as e:
            raise RagError(
                f"cannot load embedding model {self.model_name!r}: {e}",
                "give a local model folder, or a model id on a machine with internet",
            ) from None
        model.eval()
        self.dim = model.get_embedding_dimension()
        return model

    def _encode(self, texts: list[str], bf16: bool | None = None) -> np.ndarray:
        import torch

        bf16 = self.bf16 if bf16 is None else bf16
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_query(self, text: str) -> np.ndarray:
        # One short query runs faster in fp32 than with autocast casting every weight to bf16
        # per call (14 vs 22 ms here); the vectors agree to cosine 0.99999.
        return self._encode([text], bf16=False)[0]
