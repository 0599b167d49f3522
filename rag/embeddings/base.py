"""What every embedder shares: the CPU's fast number formats, e5 prefixes, passages embedded in
length-sorted slices with progress, and remembered query vectors. Runners implement ``_encode``."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..errors import BadInput


@functools.cache
def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {
        flag
        for line in text.splitlines()
        if line.startswith("flags")
        for flag in line.split(":", 1)[1].split()
    }


def cpu_has_fast_bf16() -> bool:
    """True where the CPU runs bf16 matmuls natively (AMX or AVX-512-BF16)."""
    return bool({"amx_bf16", "avx512_bf16"} & _cpu_flags())


def cpu_has_vnni() -> bool:
    """True where the CPU has int8 dot-product instructions (VNNI, AVX-VNNI or AMX)."""
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & _cpu_flags())


def resolve_precision(precision: str) -> str:
    """'int8', 'bf16' or 'fp32' for a setting that may be 'auto': int8 where the CPU has VNNI,
    else bf16 where it has fast bf16, else fp32."""
    if precision not in ("auto", "int8", "bf16", "fp32"):
        raise BadInput(
            f"unknown embedding precision {precision!r}",
            "set embedding_precision to auto, int8, bf16 or fp32",
        )
    if precision != "auto":
        return precision
    return "int8" if cpu_has_vnni() else "bf16" if cpu_has_fast_bf16() else "fp32"


def one_blas_thread() -> None:
    """numpy's OpenBLAS threads busy-wait after each (small) matrix product and take the
    cores from the model's: one BLAS thread halved warm search latency (p50 61 → 29 ms)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


class BaseEmbedder:
    """What every runner shares: e5 prefixes, passages embedded in length-sorted slices with
    progress, and remembered query vectors. Runners implement ``_encode``."""

    def __init__(
        self,
        model: str,
        fingerprint: str,
        precision: str = "auto",
        batch_size: int = 32,
        prefixes: tuple[str, str] = ("query: ", "passage: "),
    ):
        self.model_name = model
        self.fingerprint = fingerprint
        self.batch_size = batch_size
        self.query_prefix, self.passage_prefix = prefixes
        self.precision = resolve_precision(precision)
        # bf16 arithmetic: asked for, or for what int8 leaves in floating point where it is fast
        self.bf16 = self.precision == "bf16" or (self.precision == "int8" and cpu_has_fast_bf16())
        self.dim = 384
        self._queries: dict[str, np.ndarray] = {}  # recent query vectors, oldest first

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _encode_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def embed_passages(self, texts: list[str], progress=None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Longest first over the whole list, not per slice: each batch then holds texts of
        # about one length. Sorting 128-text slices padded KorQuAD's chunks and sentences to
        # 874k tokens for 630k real ones (padding is compute thrown away); sorting all, 637k.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        parts = []
        step = self.batch_size * 4
        for i in range(0, len(order), step):
            parts.append(
                self._encode([self.passage_prefix + texts[j] for j in order[i : i + step]])
            )
            if progress:
                progress(min(i + step, len(texts)))
        out = np.empty_like(parts[0], shape=(len(texts), parts[0].shape[1]))
        out[order] = np.vstack(parts)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector, remembered: retrieval and the composer both need it, and chat
        questions repeat."""
        vector = self._queries.get(text)
        if vector is None:
            vector = self._encode_query(self.query_prefix + text)
            vector.setflags(write=False)
            if len(self._queries) >= 256:
                self._queries.pop(next(iter(self._queries)))
            self._queries[text] = vector
        return vector

    def forget_queries(self) -> None:
        """Drop remembered query vectors (benchmarks time each question from scratch)."""
        self._queries.clear()
