"""Korean-aware keyword search: Kiwi morphemes indexed by BM25 (bm25s).

Whitespace tokens glue particles to nouns ("전작권을", "전작권은"), so keyword search on
them misses inflected forms. Kiwi splits them into morphemes; we keep content morphemes
(nouns, verb/adjective stems, roots, numbers, Latin words, Hanja), lower-cased.

    >>> keyword_tokens(["한미 양국은 COTP 이행을 논의했다."])
    [['한미', '양국', '이행', '논의', 'cotp']]
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .chunking import split_sentences
from .kiwi import Morpheme, tokenize

# v2: without Kiwi's typo dictionary (``kiwi._load_kiwi``); chunks analysed sentence by sentence.
# v3: without its multi-word dictionary either
ANALYZER = "kiwi-0.24/content-morphemes-v3"
KEEP_TAGS = ("NNG", "NNP", "NNB", "NR", "SH", "XR", "VV", "VA", "MAG")
# Latin words and numbers are taken whole from the text: Kiwi splits some English words.
_LATIN_OR_NUMBER = re.compile(r"[A-Za-z][A-Za-z0-9]*|\d+(?:\.\d+)?")


def _content(text: str, tokens) -> list[str]:
    hangul = [t.form for t in tokens if t.tag.startswith(KEEP_TAGS)]
    return hangul + [w.lower() for w in _LATIN_OR_NUMBER.findall(text)]


def analyze(texts: list[str]) -> list[list[tuple[str, str]]]:
    """Kiwi's (form, tag) morphemes of each text, for checks that need the tags."""
    if not texts:
        return []
    return [[(t.form, t.tag) for t in tokens] for tokens in tokenize(texts)]


_TOKENS: dict[str, list] = {}  # recent analyses: the same sentences are read again and again
_TOKENS_KEPT = 50_000


def analyze_tokens(texts: list[str]) -> list[list]:
    """Kiwi's tokens of each text (form, tag, and offsets ``start``/``len`` in the text); texts
    analysed recently are not analysed again."""
    missing = list(dict.fromkeys(t for t in texts if t not in _TOKENS))
    if missing:
        if len(_TOKENS) + len(missing) > _TOKENS_KEPT:
            _TOKENS.clear()
        analysed = (
            [Morpheme(t.form, t.tag, t.start, t.len) for t in ts] for ts in tokenize(missing)
        )
        _TOKENS.update(zip(missing, analysed))
    return [_TOKENS[t] for t in texts]


def keyword_tokens(texts: list[str]) -> list[list[str]]:
    """Content morphemes of each text (Kiwi analyses the batch in one call)."""
    if not texts:
        return []
    return [_content(text, tokens) for text, tokens in zip(texts, tokenize(texts))]


def chunk_keyword_tokens(texts: list[str]) -> list[list[str]]:
    """Content morphemes of each chunk, analysed sentence by sentence, each distinct sentence
    once (chunks overlap, and news repeats itself). On KorQuAD's 4,732 chunks Kiwi took 1.9 s
    this way against 3.4 s for whole chunks; the token bags differ in 9 chunks and no
    retrieval figure moved (5,774 questions)."""
    sentences = [[s.text for s in split_sentences(t)] for t in texts]
    distinct = list(dict.fromkeys(s for per in sentences for s in per))
    tokens = dict(zip(distinct, keyword_tokens(distinct)))
    return [[t for s in per for t in tokens[s]] for per in sentences]


class KeywordIndex:
    """BM25 over token lists, rows aligned with the chunk table."""

    def __init__(self, bm25):
        self.bm25 = bm25

    @classmethod
    def build(cls, corpus_tokens: list[list[str]]) -> "KeywordIndex":
        import bm25s

        bm25 = bm25s.BM25()
        # bm25s needs at least one token per document; an empty chunk gets a placeholder.
        bm25.index([t or ["\x00"] for t in corpus_tokens] or [["\x00"]], show_progress=False)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        self.bm25.save(str(folder))

    @classmethod
    def load(cls, folder: Path) -> "KeywordIndex":
        import bm25s

        return cls(bm25s.BM25.load(str(folder)))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for these query tokens (unknown tokens score nothing)."""
        known = [t for t in query_tokens if t in self.bm25.vocab_dict]
        n = self.bm25.scores["num_docs"]
        if not known:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)
