"""Query → ranked Passages: dense and Kiwi-BM25 candidates from the store, fused, de-duplicated.

Fusion is a weighted sum of scores normalised over the candidate pool, not plain
reciprocal-rank fusion: on KorQuAD, RRF made top-1 worse than BM25 alone because it
throws away how much better the best keyword match is (see README, "Retrieval").
Every candidate gets both scores (its dense score is computed from its stored vector,
its BM25 score from the full score array), then MMR keeps the top k from being
near-copies of each other.

    >>> hits = search("전작권 전환 검증은 언제까지?", settings)
    >>> hits[0].title, round(hits[0].fused, 2)
    ('제57차 한미안보협의회의(SCM) 결과: 자주국방과 동맹의 균형', 0.97)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from . import copies
from .chunking import count_tokens
from .dates import resolve as resolve_dates
from .embeddings import get_embedder
from .errors import BadInput
from .indexing import open_index
from .keywords import keyword_tokens
from .settings import Settings
from .stores import Window


@dataclass(frozen=True)
class Filters:
    """Article metadata filters; empty means no filter. Dates are ISO ``YYYY-MM-DD``."""

    sources: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""

    def active(self) -> bool:
        return bool(self.sources or self.outlets or self.date_from or self.date_to)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk in its context window, with its article's metadata and its scores.

    ``text`` is ``article.text[start:end]``: the matched chunk grown by its neighbours up to
    ``context_tokens``; ``matched`` holds (order, start, end) of every ranked chunk inside it,
    order being the chunk's place in the fused, diversified ranking (0 = best)."""

    chunk_id: str
    source: str
    title: str
    published: str
    outlet: str
    text: str
    start: int
    end: int
    rank: int
    dense: float
    keyword: float
    fused: float
    matched: tuple[tuple[int, int, int], ...]
    also_in: tuple[str, ...] = ()  # outlets (or files) of the story's other copies
    dates: tuple = ()  # dates.DateMention of the relative dates in ``text`` (article offsets)


def check_query(text: str, settings: Settings, what: str = "query") -> str:
    """The query, stripped; empty, overlong or punctuation-only ones are refused clearly."""
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text).strip() if isinstance(text, str) else ""
    if not text:
        raise BadInput(f"the {what} is empty", f'type a {what}, e.g. "전작권 전환은 언제?"')
    if len(text) > settings.max_question_chars:
        raise BadInput(
            f"the {what} is {len(text):,} characters, over the {settings.max_question_chars:,} "
            "limit",
            "shorten it to the question itself (or raise max_question_chars)",
        )
    if not re.search(r"\w", text):
        raise BadInput(
            f"the {what} has no words, only punctuation or symbols",
            f"type a {what} with words in it",
        )
    return text


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min() if len(x) else 0.0
    return (x - x.min()) / span if span > 1e-9 else np.ones_like(x)


def fuse(
    dense: np.ndarray, keyword: np.ndarray, dense_weight: float, keyword_weight: float
) -> np.ndarray:
    """Weighted sum over a candidate pool: dense min-max normalised, BM25 divided by its best.

    BM25 keeps its ratio to the best match (a query term found only in one passage stays
    decisive); cosine scores of e5 crowd into a narrow band, so min-max spreads them."""
    kw_norm = (
        keyword / keyword.max() if len(keyword) and keyword.max() > 0 else np.zeros_like(keyword)
    )
    return dense_weight * _minmax(dense.astype(np.float64)) + keyword_weight * kw_norm


def search(
    query: str,
    settings: Settings,
    k: int | None = None,
    filters: Filters | None = None,
    mode: str = "hybrid",
) -> list[Passage]:
    """Ranked passages for ``query`` from the live index the settings name."""
    return search_index(open_index(settings), query, settings, k, filters, mode)


@dataclass
class Candidates:
    """The rows the store found for a query, with their chunks, articles, vectors and scores."""

    rows: np.ndarray
    chunks: list
    articles: list
    vectors: np.ndarray
    dense: np.ndarray
    keyword: np.ndarray
    fused: np.ndarray


def search_index(
    index,
    query: str,
    settings: Settings,
    k: int | None = None,
    filters: Filters | None = None,
    mode: str = "hybrid",
) -> list[Passage]:
    """Top ``k`` passages for ``query`` from ``index`` (a ``stores.Store``); ``mode`` is 'hybrid',
    'dense' or 'keyword'. The store finds candidates (filters applied there); every candidate
    gets both scores, they are fused, MMR picks the top k, and each grows into its window."""
    query = check_query(query, settings)
    k = k or settings.top_k
    if k < 1:
        raise BadInput(f"k must be at least 1 (got {k})", "use -k 5")
    if index.size() == 0:
        return []
    found = _scored(index, query, settings, filters, mode, depth=max(settings.candidates, k))
    if found is None:
        return []
    order = _mmr(
        found.fused,
        found.vectors,
        min(len(found.rows), 3 * k),
        settings.mmr_lambda,
        settings.near_duplicate,
    )
    return _passages(index, found, order, settings.context_tokens, k)


def _scored(
    index, query: str, settings: Settings, filters, mode: str, depth: int
) -> Candidates | None:
    """Candidates from both sides, each with its dense, BM25 and fused score (None: no
    candidate)."""
    qvec = get_embedder(settings).embed_query(query) if mode != "keyword" else None
    tokens = keyword_tokens([query])[0] if mode != "dense" else []
    rows = _candidates(index, qvec, tokens, depth, filters)
    if not len(rows):
        return None
    chunks, articles, vecs = index.fetch(rows)
    dense = vecs @ qvec if qvec is not None else np.zeros(len(rows), dtype=np.float32)
    kw = _keyword_scores(index, tokens, rows)
    fused = {"dense": dense.astype(np.float64), "keyword": kw.astype(np.float64)}.get(mode)
    if fused is None:
        fused = fuse(dense, kw, settings.dense_weight, settings.keyword_weight)
    return Candidates(rows, chunks, articles, vecs, dense, kw, fused)


def _passages(index, found: Candidates, order: list[int], budget: int, k: int) -> list[Passage]:
    """The top ``k`` candidates in ``order``, each grown into its context window; a candidate
    already inside a better passage's window is marked there instead. A story published in several
    copies is shown once, at its best-ranked copy, which names the others (``also_in``)."""
    windows = index.windows([int(found.rows[i]) for i in order])
    story = copies.stories(found.articles, found.vectors)
    out: list[Passage] = []
    shown: dict[str, str] = {}  # story → the key of the copy shown
    for place, (i, window) in enumerate(zip(order, windows)):
        chunk, a = found.chunks[i], found.articles[i]
        if shown.setdefault(story[a.key], a.key) != a.key:
            continue  # another copy of a story already shown
        matched = ((place, chunk.start, chunk.end),)
        host = next(
            (
                n
                for n, p in enumerate(out)
                if p.source == a.source and p.start <= chunk.start and chunk.end <= p.end
            ),
            None,
        )
        if host is not None:
            out[host] = replace(out[host], matched=out[host].matched + matched)
        elif len(out) < k:
            start, end = context_window(window, budget)
            scores = (
                round(float(found.dense[i]), 4),
                round(float(found.keyword[i]), 4),
                round(float(found.fused[i]), 4),
            )
            out.append(
                Passage(
                    chunk.id,
                    a.source,
                    a.title,
                    a.published,
                    a.outlet,
                    a.text[start:end],
                    start,
                    end,
                    len(out) + 1,
                    *scores,
                    matched,
                    _other_copies(a, story, found.articles),
                    tuple(d for d in resolve_dates(a.text, a.published) if start <= d.start < end),
                )
            )
    return out


def _other_copies(article, story: dict[str, str], articles: list) -> tuple[str, ...]:
    names = {
        copies.copy_name(c): None
        for c in articles
        if c.key != article.key and story[c.key] == story[article.key]
    }
    return tuple(n for n in names if n != copies.copy_name(article))


def _candidates(index, qvec, tokens: list[str], depth: int, filters) -> np.ndarray:
    """Rows the dense and keyword sides find, sorted."""
    found: set[int] = set()
    if qvec is not None:
        found.update(int(r) for r in index.dense(qvec, depth, filters)[0])
    if tokens:
        found.update(int(r) for r in index.keyword(tokens, depth, filters)[0])
    return np.array(sorted(found), dtype=np.int64)


def _keyword_scores(index, tokens: list[str], rows: np.ndarray) -> np.ndarray:
    """Every candidate's BM25 score, also of those found by the dense side only."""
    if not tokens:
        return np.zeros(len(rows), dtype=np.float32)
    scored, scores = index.keyword(tokens, len(rows), None, rows=rows)
    at = {int(r): float(v) for r, v in zip(scored, scores)}
    return np.array([at.get(int(r), 0.0) for r in rows], dtype=np.float32)


def context_window(window: Window, budget: int) -> tuple[int, int]:
    """The span of a window's chunk grown by whole neighbouring chunks of its article, next and
    previous in turn, while the span stays within ``budget`` tokens ("small-to-big": a small chunk
    ranks precisely, the passage around it gives the answer its context)."""
    chunks, at = window.chunks, window.at
    chunk, text = chunks[at], window.article.text
    start, end = chunk.start, chunk.end
    before, after = at - 1, at + 1
    while budget > chunk.tokens:
        grown = False
        for r in (after, before):
            if not 0 <= r < len(chunks):
                continue
            s, e = min(start, chunks[r].start), max(end, chunks[r].end)
            if count_tokens(text[s:e]) <= budget:
                start, end, grown = s, e, True
                if r == after:
                    after += 1
                else:
                    before -= 1
        if not grown:
            break
    return start, end


def _mmr(
    relevance: np.ndarray, vecs: np.ndarray, k: int, lam: float, near_duplicate: float
) -> list[int]:
    """Maximal marginal relevance over candidates; near-copies of a chosen one are dropped."""
    order = np.argsort(-relevance)  # candidates, most relevant first (ties keep this order)
    rel = _minmax(relevance.astype(np.float64))[order]
    sims = (vecs @ vecs.T)[np.ix_(order, order)]
    redundancy = np.full(len(order), -np.inf)  # highest similarity to any passage chosen so far
    available = np.ones(len(order), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < k:
        ok = available & (redundancy < near_duplicate)
        if not ok.any():
            break
        penalty = redundancy if chosen else np.zeros(len(order))
        best = int(np.argmax(np.where(ok, lam * rel - (1 - lam) * penalty, -np.inf)))
        chosen.append(int(order[best]))
        available[best] = False
        redundancy = np.maximum(redundancy, sims[best])
    return chosen


def article_for(index, source: str, quote: str):
    """The whole article ``quote`` was cited from (the web chat's source panel shows it), or
    None when the index no longer holds it."""
    tokens = keyword_tokens([quote])[0]
    rows, _ = index.keyword(tokens, 1, Filters(sources=(source,)))
    if not len(rows):
        return None
    _, articles, _ = index.fetch(rows[:1])
    return articles[0]
