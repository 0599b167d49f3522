"""The ``Store`` contract, one suite run on every engine: FAISS files, a real PostgreSQL with
pgvector and a real Milvus. The articles are the real seed articles with real Kiwi tokens; the
vectors are random unit vectors, so each test knows exactly which row must come back."""

import itertools
from dataclasses import replace

import numpy as np
import pytest
from helpers import SEEDS, make_settings

from rag.articles import read_article
from rag.chunking import chunk_article, evidence_sentences
from rag.errors import IndexBusy, IndexIncompatible, IndexMissing
from rag.indexing import expected_manifest
from rag.keywords import chunk_keyword_tokens
from rag.retrieve import Filters
from rag.stores import Changes, store_for, text_key

pytestmark = pytest.mark.slow
_names = itertools.count()


@pytest.fixture(params=["faiss", "pgvector", "milvus"])
def settings(request, tmp_path):
    """Settings for an empty store of each engine (a fresh collection per test)."""
    if request.param == "faiss":
        return make_settings(tmp_path / "index")
    url = request.getfixturevalue("pg_url" if request.param == "pgvector" else "milvus_url")
    collection = f"contract_{next(_names)}"
    return make_settings(
        tmp_path / "unused", store=request.param, store_url=url, store_collection=collection
    )


def _changes(settings, paths, rebuild=True, removed=(), seed=0) -> Changes:
    """The articles at ``paths`` as one write: their chunks with Kiwi tokens, random unit vectors
    for the chunks and for the evidence sentences."""
    rng = np.random.default_rng(seed)
    articles = [read_article(p) for p in paths]
    chunks = [c for a in articles for c in chunk_article(a.key, a.content_hash, a.text, 160, 40)]
    vectors = rng.standard_normal((len(chunks), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sentences = {
        a.key: {text_key(t): _unit(rng) for t in evidence_sentences(a.text)} for a in articles
    }
    manifest = expected_manifest(settings, 384, {a.key: a.content_hash for a in articles})
    return Changes(
        manifest,
        articles,
        list(removed),
        chunks,
        chunk_keyword_tokens([c.text for c in chunks]),
        vectors,
        sentences,
        rebuild=rebuild,
    )


def _unit(rng) -> np.ndarray:
    v = rng.standard_normal(384).astype(np.float32)
    return v / np.linalg.norm(v)


def _written(settings, changes: Changes):
    store = store_for(settings)
    with store.writing():
        assert store.apply(changes) == len(changes.chunks)
    return store.load(expected_manifest(settings))


SEED_FILES = sorted(SEEDS.glob("*.txt"))


def test_an_empty_store_says_there_is_no_index(settings):
    with pytest.raises(IndexMissing, match="no index at"):
        store_for(settings).load(expected_manifest(settings))


def test_what_is_written_comes_back(settings):
    changes = _changes(settings, SEED_FILES)
    index = _written(settings, changes)
    assert index.size() == len(changes.chunks) == len(set(index.rows().tolist()))
    assert index.catalog() == {a.key: (a.content_hash, a.source) for a in changes.articles}
    chunks, articles, vectors = index.fetch(index.rows())
    by_id = {c.id: (c, v) for c, v in zip(changes.chunks, changes.vectors)}
    for chunk, article, vector in zip(chunks, articles, vectors):
        assert chunk == by_id[chunk.id][0] and article.key == chunk.article_key
        np.testing.assert_allclose(vector, by_id[chunk.id][1], atol=1e-6)
    exported = index.export()
    assert sorted(c.id for c in exported.chunks) == sorted(by_id)
    assert {a.key for a in exported.articles} == {a.key for a in changes.articles}
    for key, sentences in changes.sentences.items():
        assert exported.sentences[key].keys() == sentences.keys()


def test_dense_finds_a_vector_itself_and_filters_apply(settings):
    changes = _changes(settings, SEED_FILES)
    index = _written(settings, changes)
    rows = index.rows()
    chunks, _, _ = index.fetch(rows)
    row_of = {c.id: int(r) for c, r in zip(chunks, rows)}
    for i in (0, len(changes.chunks) // 2, len(changes.chunks) - 1):
        found, scores = index.dense(changes.vectors[i], 3, None)
        assert int(found[0]) == row_of[changes.chunks[i].id] and scores[0] == pytest.approx(
            1.0, abs=1e-4
        )
    source = changes.articles[1].source
    found, _ = index.dense(changes.vectors[0], 10, Filters(sources=(source,)))
    assert len(found) and {a.source for a in index.fetch(found)[1]} == {source}
    assert len(index.dense(changes.vectors[0], 10, Filters(date_from="2999-01-01"))[0]) == 0


def test_keyword_side_ranks_the_chunks_that_hold_the_words(settings):
    changes = _changes(settings, SEED_FILES)
    index = _written(settings, changes)
    holding = {c.id for c in changes.chunks if "하얏트호텔" in c.text}
    found, scores = index.keyword(["하얏트호텔"], 5, None)
    assert {c.id for c in index.fetch(found)[0]} == holding  # all of them, and nothing else
    assert all(scores > 0)
    tokens = ["하얏트호텔", "양해각서"]
    found, scores = index.keyword(tokens, 5, None)
    assert list(scores) == sorted(scores, reverse=True) and holding <= {
        c.id for c in index.fetch(found)[0]
    }
    # the scores of given rows only (the fusion asks for every candidate's score)
    rows = index.rows()[:3]
    scored, _ = index.keyword(tokens, 3, None, rows=rows)
    assert set(scored.tolist()) <= set(rows.tolist())


def test_windows_hold_the_articles_chunks_in_order(settings):
    changes = _changes(settings, SEED_FILES)
    index = _written(settings, changes)
    rows = index.rows()[[0, 5, -1]]
    chunks, _, _ = index.fetch(rows)
    for chunk, window in zip(chunks, index.windows(rows.tolist())):
        assert window.chunks[window.at] == chunk and window.article.key == chunk.article_key
        assert [c.index for c in window.chunks] == list(range(len(window.chunks)))
        assert all(c.article_key == chunk.article_key for c in window.chunks)


def test_vectors_held_are_found_by_text_key(settings):
    changes = _changes(settings, SEED_FILES)
    index = _written(settings, changes)
    article = changes.articles[0]
    sentences = changes.sentences[article.key]
    keys = [*list(sentences)[:5], "no-such-key"]
    found = index.sentence_vectors(keys)
    assert set(found) == set(keys[:5])
    for k, v in found.items():
        np.testing.assert_allclose(v, sentences[k], atol=1e-6)
    wanted = {text_key(c.text) for c in changes.chunks[:4]}
    held = index.chunk_vectors(wanted | {"no-such-key"})
    assert set(held) == wanted
    first = changes.chunks[0]
    vector, tokens = held[text_key(first.text)]
    np.testing.assert_allclose(vector, changes.vectors[0], atol=1e-6)
    assert tokens == changes.tokens[0]


def test_an_incremental_write_replaces_and_removes_articles(settings):
    index = _written(settings, _changes(settings, SEED_FILES))
    gone, kept = SEED_FILES[0], SEED_FILES[1:]
    update = _changes(settings, kept[:1], rebuild=False, removed=[str(gone.resolve())], seed=1)
    with index.writing():
        total = index.apply(update)
    after = store_for(settings).load(expected_manifest(settings))
    assert set(after.catalog()) == {str(p.resolve()) for p in kept}
    assert total == after.size() and not any(
        a.key == str(gone.resolve()) for a in after.fetch(after.rows())[1]
    )
    changed = update.chunks[0]
    found, _ = after.dense(update.vectors[0], 1, None)
    assert after.fetch(found)[0][0].id == changed.id  # the article's new vectors, not its old ones
    untouched = str(kept[1].resolve())
    assert after.export().sentences[untouched]  # an article not in the write keeps its sentences


def test_one_writer_at_a_time(settings):
    store = store_for(settings)
    with store.writing():
        with pytest.raises(IndexBusy, match="another process.* is writing"):
            with store_for(settings).writing():
                pass


def test_an_index_of_other_settings_is_refused(settings):
    _written(settings, _changes(settings, SEED_FILES[:1]))
    with pytest.raises(IndexIncompatible, match="chunk settings"):
        store_for(settings).load(expected_manifest(replace(settings, chunk_tokens=200)))
