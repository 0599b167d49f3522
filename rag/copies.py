"""Syndicated copies: one story published by several outlets, or saved twice with other page
furniture, a changed headline or a trimmed last paragraph.

Each article gets a MinHash signature (datasketch) of its text's character 5-grams, spaces and
punctuation removed, so a different line layout or byline changes little; two articles whose
estimated Jaccard similarity is at least ``SAME_STORY`` are one story. Retrieval shows a story
once, at its best-ranked copy, and names the other copies' outlets there ("also in …").
Signatures are cached by content hash, so a copy is hashed once per process.

An ingest names the copies it adds (``at_ingest``): an article's candidates are the articles
holding a chunk nearly identical to its middle chunk (the index's own vector search finds them,
in any store), confirmed by the same MinHash similarity.
"""

from __future__ import annotations

import functools
import re
import zlib

import numpy as np

SAME_STORY = 0.5  # KorQuAD dev articles 0–69: distinct ones ≤ 0.04, planted copies ≥ 0.62
SHINGLE = 5
PERMUTATIONS = 128


@functools.lru_cache(maxsize=4096)
def _signature(content_hash: str, text: str) -> np.ndarray:
    from datasketch import MinHash

    letters = re.sub(r"[\W_]+", "", text.lower())
    grams = {letters[i : i + SHINGLE] for i in range(max(1, len(letters) - SHINGLE + 1))}
    m = MinHash(num_perm=PERMUTATIONS, seed=1, hashfunc=zlib.crc32)  # sha1 is 10x slower
    m.update_batch([g.encode("utf-8") for g in grams])
    return m.hashvalues


def similarity(a, b) -> float:
    """Estimated Jaccard similarity of two articles' texts (``Article`` objects)."""
    sa, sb = _signature(a.content_hash, a.text), _signature(b.content_hash, b.text)
    return float(np.mean(sa == sb))


def copy_name(article) -> str:
    """How a copy is named on the story's citation: its outlet, else its file."""
    return article.outlet or article.source


def stories(articles: list, vectors: np.ndarray, close: float = 0.95) -> dict[str, str]:
    """Article key → its story's key (the first of its copies in ``articles``), for one query's
    candidate chunks (``articles[i]`` holds chunk i, ``vectors[i]`` its embedding). Only articles
    with a nearly identical chunk (cosine ≥ ``close``) are compared, so a query hashes few."""
    story = {a.key: a.key for a in articles}

    def root(key: str) -> str:
        while story[key] != key:
            key = story[key]
        return key

    first: dict[str, int] = {}  # where each article's first chunk is among the candidates
    for n, a in enumerate(articles):
        first.setdefault(a.key, n)
    sims = vectors @ vectors.T
    for i, j in zip(*np.nonzero(np.triu(sims >= close, 1))):
        a, b = articles[i], articles[j]
        ra, rb = root(a.key), root(b.key)
        if ra != rb and similarity(a, b) >= SAME_STORY:
            later, earlier = sorted((ra, rb), key=first.__getitem__, reverse=True)
            story[later] = earlier
    return {key: root(key) for key in story}


def at_ingest(store, articles: list, middle_vectors: dict[str, np.ndarray], close: float = 0.95):
    """(copy, other copy) source pairs among ``articles`` (just written to ``store``) and the
    articles already there: each article's middle-chunk vector (``middle_vectors`` by article
    key) finds the chunks nearly identical to it, and their articles are compared with it."""
    pairs: dict[frozenset, tuple[str, str]] = {}
    articles = [a for a in articles if a.key in middle_vectors]
    if not articles:
        return []
    queries = np.vstack([middle_vectors[a.key] for a in articles])
    for a, vector, (rows, _) in zip(articles, queries, store.dense_many(queries, 8)):
        if not len(rows):
            continue
        _, found, vectors = store.fetch(rows)
        for b, v in zip(found, vectors):
            pair = frozenset((a.key, b.key))
            if len(pair) == 2 and pair not in pairs and float(v @ vector) >= close:
                if similarity(a, b) >= SAME_STORY:
                    pairs[pair] = (a.source, b.source)
    return list(pairs.values())
