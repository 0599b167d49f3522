"""A small sample of the KorQuAD retrieval benchmark (the full run is `rag bench retrieval`)."""

from conftest import KORQUAD, korquad, make_settings
from rag.benchmarks import format_table, run_retrieval


def test_korquad_sample(tmp_path):
    korquad()  # skips when the data set is absent
    result = run_retrieval(make_settings(tmp_path / "unused"), KORQUAD, articles=4, log=lambda *a: None)
    print("\n" + format_table(result))
    r = result["results"]
    assert set(r) == {"dense", "bm25", "rrf_k60", "hybrid", "hybrid_search_path", "langchain_baseline"}
    assert result["test_questions"] > 20 and result["chunks"] >= result["paragraphs"]
    for name in ("dense", "bm25", "hybrid", "langchain_baseline"):
        assert 0 <= r[name]["gold@1"] <= r[name]["gold@5"] <= r[name]["gold@20"] <= 100
    assert r["hybrid"]["gold@5"] >= 80  # far above chance on this sample (dozens of paragraphs)
