"""A small sample of the KorQuAD retrieval benchmark (the full run is `rag bench retrieval`)."""

from helpers import KORQUAD, korquad, make_settings

from rag.bench.retrieval import format_table, run_retrieval


def test_korquad_sample(tmp_path):
    result = run_retrieval(
        make_settings(tmp_path / "unused"), KORQUAD, articles=4, log=lambda *a: None
    )
    print("\n" + format_table(result))
    r = result["results"]
    assert set(r) == {
        "dense",
        "bm25",
        "rrf_k60",
        "hybrid",
        "hybrid_search_path",
        "langchain_baseline",
    }
    assert result["test_questions"] > 20 and result["chunks"] >= result["paragraphs"]
    for name in ("dense", "bm25", "hybrid", "langchain_baseline"):
        assert 0 <= r[name]["gold@1"] <= r[name]["gold@5"] <= r[name]["gold@20"] <= 100
    assert r["hybrid"]["gold@5"] >= 80  # far above chance on this sample (dozens of paragraphs)


def test_recombined_corpus_is_real_korquad_text():
    """The large-corpus benchmark's articles: KorQuAD's own sentences in new combinations,
    as much text as asked for, the same for the same seed."""
    from rag.bench.perf import recombined_corpus
    from rag.chunking import split_sentences

    data = korquad()
    sentences = {
        s.text for a in data["data"] for p in a["paragraphs"] for s in split_sentences(p["context"])
    }
    files = recombined_corpus(KORQUAD, 200_000, seed=3)
    assert sum(len(text) for _, _, text in files) >= 200_000
    assert files == recombined_corpus(KORQUAD, 200_000, seed=3)
    assert len({text for _, _, text in files}) == len(files)  # no article twice
    for _, _, text in files[:50]:
        parts = [s.text for s in split_sentences(text)]
        assert 3 <= len(parts) <= 9 and all(s in sentences for s in parts)
