"""Hybrid retrieval on the seeds: Korean morphemes, exact keywords, filters, fusion, diversity."""

import numpy as np
import pytest

from rag.errors import BadInput
from rag.indexing import open_index
from rag.keywords import keyword_tokens
from rag.retrieve import Filters, fuse, search


def test_korean_inflections_match_the_same_morphemes():
    assert (
        "전작권" in keyword_tokens(["전작권은 언제?"])[0]
        and "전작권" in keyword_tokens(["전작권을 전환"])[0]
    )
    assert set(keyword_tokens(["체결했다"])[0]) & set(keyword_tokens(["체결됐어?"])[0])


def test_chunks_are_analysed_sentence_by_sentence_once_each(monkeypatch):
    """A chunk's keyword tokens are its sentences' tokens; a sentence two chunks share (their
    overlap) is analysed once; on these chunks that is the same bag as whole-chunk analysis."""
    import rag.keywords as keyword

    chunks = [
        "한미 양국은 합의했다. 이어서 국방장관 회의를 열었다.",
        "이어서 국방장관 회의를 열었다. SCM에서 COTP 이행을 논의했다.",
    ]
    whole = keyword.keyword_tokens(chunks)
    analysed = []
    real = keyword.keyword_tokens
    monkeypatch.setattr(
        keyword, "keyword_tokens", lambda texts: analysed.extend(texts) or real(texts)
    )
    got = keyword.chunk_keyword_tokens(chunks)
    assert analysed == [
        "한미 양국은 합의했다.",
        "이어서 국방장관 회의를 열었다.",
        "SCM에서 COTP 이행을 논의했다.",
    ]
    assert [sorted(t) for t in got] == [sorted(t) for t in whole] and "cotp" in got[1]


def test_keyword_side_finds_exact_acronyms_and_numbers(seed_settings):
    hits = search("232조", seed_settings, k=3, mode="keyword")
    assert "232조" in hits[0].text and hits[0].keyword > 0
    hits = search("COTP", seed_settings, k=3)
    assert "COTP" in hits[0].text


def test_a_different_inflection_still_finds_the_passage(seed_settings):
    hits = search("프리덤 에지를 실시했나요", seed_settings, k=3)
    assert any("프리덤 에지" in h.text for h in hits)


def test_filters_by_date_outlet_and_source(seed_settings):
    recent = search("반도체 협력", seed_settings, k=5, filters=Filters(date_from="2025-01-01"))
    assert recent and all(h.published >= "2025-01-01" for h in recent)
    old = search("반도체 협력", seed_settings, k=5, filters=Filters(date_to="2022-12-31"))
    assert old and all(h.outlet == "연합뉴스" for h in old)
    only = search(
        "협력", seed_settings, k=5, filters=Filters(sources=("001_0fa01c33c17e67eb.txt",))
    )
    assert {h.source for h in only} == {"001_0fa01c33c17e67eb.txt"}
    assert search("협력", seed_settings, filters=Filters(outlets=("없는 언론사",))) == []


def test_fusion_keeps_a_decisive_keyword_match_on_top():
    dense = np.array([0.86, 0.85, 0.84])
    keyword = np.array([0.0, 9.0, 1.0])
    assert int(np.argmax(fuse(dense, keyword, 0.3, 0.7))) == 1
    assert int(np.argmax(fuse(dense, keyword, 1.0, 0.0))) == 0


def test_top_k_has_no_near_duplicates(seed_settings):
    index = open_index(seed_settings)
    hits = search("한미 공급망 산업 대화 장관급 격상", seed_settings, k=5)
    held = index.export()
    by_id = {c.id: v for c, v in zip(held.chunks, held.vectors)}
    vecs = np.vstack([by_id[h.chunk_id] for h in hits])
    sims = vecs @ vecs.T - np.eye(len(hits))
    assert sims.max() < seed_settings.near_duplicate
    assert len({h.text for h in hits}) == len(hits)


@pytest.mark.parametrize(
    "query, message", [("", "empty"), ("!!! ???", "no words"), ("한" * 5000, "limit")]
)
def test_bad_queries(seed_settings, query, message):
    with pytest.raises(BadInput, match=message):
        search(query, seed_settings)


def test_langchain_retriever(seed_settings):
    from langchain_core.retrievers import BaseRetriever

    from rag.adapters import retriever_for

    retriever = retriever_for(seed_settings, k=2)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("헤그세스 장관")
    assert len(docs) == 2 and "헤그세스" in docs[0].page_content and docs[0].metadata["published"]


def test_a_large_index_switches_to_ivf_and_finds_the_same_passages(seed_settings, tmp_path):
    """`ivf_from` lowered to 1 so the seeds get the approximate index the 200,000-chunk default
    gives an archive: written, loaded and searched (with a filter too) like the exact one."""
    from dataclasses import replace

    from helpers import SEEDS

    from rag.indexing import ingest

    approx = replace(seed_settings, index_dir=tmp_path / "ivf", ivf_from=1)
    ingest([SEEDS], approx, quiet=True)
    assert (
        open_index(approx).data.vectors.kind == "ivf"
        and open_index(seed_settings).data.vectors.kind == "exact"
    )
    for query in ("전작권 전환 검증은 언제까지?", "반도체 공급망 협력", "한미일 연합훈련"):
        assert [h.text for h in search(query, approx)] == [
            h.text for h in search(query, seed_settings)
        ]
    recent = search("반도체 협력", approx, filters=Filters(date_from="2025-01-01"))
    assert recent and all(h.published >= "2025-01-01" for h in recent)
