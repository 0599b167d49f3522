"""The FAISS store's tables on disk and in memory: a write's own generation is what loading it
gives, keyword tokens are read only when a write needs them, a format-2 index (tokens inside the
chunk table) still loads, the sentence table is merged without regrouping it, and many queries
at once find what one query at a time finds. Real index files; random vectors stand in for the
model, which none of this depends on."""

import json

import numpy as np
import pytest

from rag.articles import Article
from rag.chunking import Chunk
from rag.errors import IndexCorrupt
from rag.stores import FORMAT_VERSION, Manifest
from rag.stores.faiss import (
    Contents,
    FaissIndex,
    SentenceTable,
    TokenRows,
    current_generation,
    load_generation,
    write_generation,
)

DIM = 8


def _unit(rows: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((rows, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _contents(articles: int = 3) -> Contents:
    docs, chunks, tokens = [], [], []
    for n in range(articles):
        text = f"기사 {n}의 첫 문장이다. 둘째 문장이다."
        docs.append(
            Article(
                f"/a{n}.txt", f"a{n}.txt", f"제목 {n}", "2026-01-0" + str(n + 1), "", text, f"h{n}"
            )
        )
        for i, (start, end) in enumerate(((0, 12), (13, len(text)))):
            chunks.append(Chunk(f"a{n}-{i}", f"/a{n}.txt", i, start, end, text[start:end], 5))
            tokens.append(["기사", str(n), f"문장{i}"])
    manifest = Manifest(FORMAT_VERSION, "test-model", DIM, {"max_tokens": 160}, "test-analyzer")
    owners = [[n] for n in range(articles)]
    table = SentenceTable([f"s{n}" for n in range(articles)], _unit(articles, 1), owners)
    return Contents(manifest, docs, chunks, tokens, _unit(len(chunks), 0), table)


def test_a_written_generation_is_what_loading_it_gives(tmp_path):
    contents = _contents()
    written = write_generation(tmp_path, contents)
    loaded = load_generation(tmp_path)
    assert written.name == loaded.name == current_generation(tmp_path).name
    assert written.chunks == loaded.chunks and written.articles == loaded.articles
    assert list(written.tokens) == list(loaded.tokens) == contents.tokens
    assert np.array_equal(written.vectors.vectors(), loaded.vectors.vectors())
    assert np.array_equal(written.sentences.vectors, loaded.sentences.vectors)
    assert written.sentences.owners == loaded.sentences.owners
    query = contents.vectors[3]
    assert written.keywords.scores(["문장1"]).tolist() == loaded.keywords.scores(["문장1"]).tolist()
    assert np.array_equal(written.vectors.search(query, 2)[0], loaded.vectors.search(query, 2)[0])


def test_keyword_tokens_are_read_on_first_use_and_checked(tmp_path):
    write_generation(tmp_path, _contents())
    loaded = load_generation(tmp_path)
    assert isinstance(loaded.tokens, TokenRows) and loaded.tokens.rows is None
    assert len(loaded.tokens) == 6 and loaded.tokens.rows is None  # the count needs no read
    assert loaded.tokens[3] == ["기사", "1", "문장1"]
    gen = current_generation(tmp_path)
    lines = (gen / "tokens.jsonl").read_text(encoding="utf-8").splitlines()
    (gen / "tokens.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    damaged = load_generation(tmp_path)  # loads: a search never reads the tokens
    with pytest.raises(IndexCorrupt) as e:
        damaged.tokens[0]
    assert "5 rows for 6 chunks" in e.value.message and "rag ingest --rebuild" in e.value.hint


def test_a_format_2_index_with_tokens_in_the_chunk_table_still_loads(tmp_path):
    contents = _contents()
    write_generation(tmp_path, contents)
    gen = current_generation(tmp_path)
    rows = [json.loads(line) for line in (gen / "chunks.jsonl").read_text().splitlines()]
    with open(gen / "chunks.jsonl", "w", encoding="utf-8") as f:
        for row, tokens in zip(rows, contents.tokens):
            f.write(json.dumps({**row, "keywords": tokens}, ensure_ascii=False) + "\n")
    (gen / "tokens.jsonl").unlink()
    manifest = json.loads((gen / "manifest.json").read_text())
    (gen / "manifest.json").write_text(json.dumps({**manifest, "format_version": 2}))
    loaded = load_generation(tmp_path)
    assert loaded.manifest.format_version == 2
    assert loaded.tokens == contents.tokens and loaded.chunks == contents.chunks


def test_the_sentence_table_is_merged_with_owners_renumbered():
    """Sentence s0 is held by a0 and a1, s1 by a1 only, s2 by a2; a1 is replaced and a3 added
    with s1 again and a new s3: s1's vector is the new one's, s0 keeps only a0."""
    vectors = _unit(3, 2)
    table = SentenceTable(["s0", "s1", "s2"], vectors, [[0, 1], [1], [2]])
    new = _unit(2, 3)
    merged = table.merged(
        ["a0", "a1", "a2"], {"a1"}, {"a3": {"s1": new[0], "s3": new[1]}}, ["a0", "a2", "a3"]
    )
    assert merged.keys == ["s0", "s2", "s1", "s3"]
    assert merged.owners == [[0], [1], [2], [2]]
    assert np.array_equal(merged.vectors, np.vstack([vectors[0], vectors[2], new]))
    assert np.array_equal(merged.get("s2"), vectors[2])


@pytest.mark.parametrize("ivf_from", [0, 50])
def test_many_queries_at_once_find_what_one_at_a_time_finds(ivf_from):
    vectors = _unit(200, 4)
    index = FaissIndex.build(vectors, DIM, ivf_from=ivf_from, nprobe=64)
    queries = _unit(5, 5)
    many = index.search_many(queries, 7)
    for query, (rows, scores) in zip(queries, many):
        one_rows, one_scores = index.search(query, 7)
        assert rows.tolist() == one_rows.tolist()
        assert np.allclose(scores, one_scores)
    best = int(np.argmax(vectors @ queries[0]))
    if not ivf_from:  # exact search finds the true nearest
        assert many[0][0][0] == best
