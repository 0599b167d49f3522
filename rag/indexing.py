"""Article files → an index in a store, incrementally; and an index copied to another store.

    ingest(paths, settings)     files → index (only what changed is chunked and embedded)
    migrate(settings, target)   the whole index, vectors and all, into another store
    open_index(settings)        the loaded index the settings name, ready to search

An ingest runs in named steps under the store's write lock::

    plan      which files are new, changed, unchanged, unreadable or gone
    chunk     the new and changed articles → chunks and evidence sentences
    vectors   every text's vector: reused from the index (or, on a rebuild, from the index it
              replaces), else embedded; keyword tokens for chunk texts the index lacks
    apply     one ``stores.Changes`` written by the store
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import copies, fetch, stores
from .articles import CLEANER_VERSION, Article, find_article_files, read_article
from .chunking import CHUNKER_VERSION, Chunk, chunk_article, evidence_sentences
from .embeddings import get_embedder, model_fingerprint
from .errors import BadInput, IndexMissing, RagError
from .keywords import ANALYZER, chunk_keyword_tokens
from .settings import Settings
from .stores import Changes, Manifest, Store, text_key


@dataclass
class IngestReport:
    """What an ingest did, for the one-screen summary."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    articles: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    vectors_reused: int = 0  # a rebuild's texts whose vectors the replaced index already had
    copies: list[tuple[str, str]] = field(default_factory=list)  # (new article, its other copy)
    seconds: float = 0.0
    embedding_seconds: float = 0.0  # of ``seconds``, spent running the model

    def summary(self) -> str:
        lines = [
            f"Indexed {self.articles} articles in {self.chunks} chunks ({self.seconds:.1f} s).",
            f"  new {len(self.added)}, changed {len(self.changed)}, unchanged "
            f"{len(self.unchanged)}, "
            f"removed {len(self.removed)}; {self.chunks_embedded} chunks and "
            f"{self.sentences_embedded} "
            "evidence sentences embedded.",
        ]
        if self.vectors_reused:
            lines.append(
                f"  {self.vectors_reused} vectors kept from the previous index (same model, same "
                "text)."
            )
        if self.copies:
            lines.append(
                f"  copies of one story, {len(self.copies)} pair(s) (answers show a story once "
                "and name its other copies):"
            )
            lines += [f"    {new} = {other}" for new, other in self.copies[:20]]
            if len(self.copies) > 20:
                lines.append(f"    … and {len(self.copies) - 20} more")
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)}:")
            lines += [f"    {path}: {why}" for path, why in self.skipped]
        return "\n".join(lines)


def expected_manifest(settings: Settings, dim: int = 0, articles: dict | None = None) -> Manifest:
    """The manifest an index built with ``settings`` has (the model is not loaded)."""
    chunking = {
        "tokenizer": "cl100k_base",
        "chunker": CHUNKER_VERSION,
        "max_tokens": settings.chunk_tokens,
        "overlap_tokens": settings.chunk_overlap_tokens,
        "cleaner": CLEANER_VERSION,
    }
    return Manifest(
        stores.FORMAT_VERSION,
        model_fingerprint(settings),
        dim,
        chunking,
        ANALYZER,
        articles or {},
        time.time(),
    )


def open_index(settings: Settings) -> Store:
    """The live index the settings name, loaded (FAISS: read once per generation; a server
    store: its manifest read afresh)."""
    return stores.store_for(settings).load(expected_manifest(settings))


def has_index(settings: Settings) -> bool:
    try:
        open_index(settings)
        return True
    except IndexMissing:
        return False


# Step 1: plan.
@dataclass
class Plan:
    """Which articles an ingest writes (``fresh``: new or changed) and removes."""

    fresh: list[Article]
    removed: list[str]
    catalog: dict[
        str, tuple[str, str]
    ]  # what the index held: article key -> (content hash, source)
    dim: int  # of the index's vectors (0: no index yet)

    @property
    def rebuild(self) -> bool:
        """Whether the write makes the index anew (there is none to merge into)."""
        return not self.dim

    def batch(self, size: int, current: Store | None) -> Plan:
        """The next ``size`` fresh articles as a plan of their own, against ``current`` (the
        index as the batches before left it); removals go with the first batch."""
        fresh, self.fresh = self.fresh[:size], self.fresh[size:]
        removed, self.removed = self.removed, []
        catalog = current.catalog() if current is not None else self.catalog
        return Plan(fresh, removed, catalog, (current.manifest.dim or 384) if current else self.dim)


def plan(sources: list, current: Store | None, report: IngestReport, settings: Settings) -> Plan:
    """Read the article files under ``sources`` (paths, and http(s) URLs of pages, feeds and
    sitemaps, fetched by ``fetch``); compare them with the index's catalog. A file or URL that
    cannot be read is skipped with its reason and keeps whatever version the index already had;
    an article whose file is gone from a folder being ingested is removed (a URL's never is)."""
    urls, paths = fetch.split_sources(sources)
    files, report.skipped = find_article_files(paths)
    catalog = current.catalog() if current else {}
    read = [a for a in (_read(path, report) for path in files) if a is not None]
    if urls:
        read += fetch.articles_from_urls(urls, settings, catalog, report)
    fresh = [a for a in read if _fresh(a, catalog, report)]
    removed = _gone(catalog, files, paths)
    report.removed = [catalog[key][1] for key in removed]
    report.articles = len(catalog) + len(report.added) - len(removed)
    dim = (current.manifest.dim or 384) if current else 0
    return Plan(fresh, removed, catalog, dim)


def _gone(catalog: dict, files: list[Path], paths: list[Path]) -> list[str]:
    """Indexed articles whose file is gone from a folder being ingested."""
    seen = {str(path.resolve()) for path in files}
    roots = [p.resolve() for p in paths if p.is_dir()]
    return [
        key
        for key in catalog
        if key not in seen
        and not Path(key).exists()
        and any(Path(key).is_relative_to(r) for r in roots)
    ]


def _read(path: Path, report: IngestReport) -> Article | None:
    """The article in ``path``, or None when it cannot be read (noted in the report)."""
    try:
        return read_article(path)
    except BadInput as e:
        report.skipped.append(
            (str(path), e.message.split(": ", 1)[-1] + (f" ({e.hint})" if e.hint else ""))
        )
        return None


def _fresh(article: Article, catalog: dict, report: IngestReport) -> bool:
    """Whether the article is new or changed (noted in the report as such, or as unchanged)."""
    previous = catalog.get(article.key)
    if previous and previous[0] == article.content_hash:
        report.unchanged.append(article.source)
        return False
    (report.changed if previous else report.added).append(article.source)
    return True


# Step 2: chunk.
def chunk(
    articles: list[Article], settings: Settings
) -> tuple[list[Chunk], dict[str, dict[str, str]]]:
    """The articles' chunks, in article order, and their evidence sentences (article key →
    sentence key → text): answering looks these sentences' vectors up instead of embedding them."""
    chunks: list[Chunk] = []
    for a in articles:
        chunks += chunk_article(
            a.key, a.content_hash, a.text, settings.chunk_tokens, settings.chunk_overlap_tokens
        )
    sentences = {a.key: {text_key(t): t for t in evidence_sentences(a.text)} for a in articles}
    return chunks, sentences


# Step 3: vectors.
@dataclass
class Vectors:
    """Every text's vector, by text key, and the keyword tokens of every chunk text."""

    vectors: dict[str, np.ndarray]
    tokens: dict[str, list[str]]
    embedded_chunks: int = 0
    embedded_sentences: int = 0
    reused: int = 0
    seconds: float = 0.0


def vectors_for(
    chunks: list[Chunk],
    sentences: dict[str, dict[str, str]],
    current: Store | None,
    replaced: Store | None,
    settings: Settings,
    quiet: bool,
) -> Vectors:
    """Vectors for the chunks and sentences: the index's own for texts it holds (with their
    tokens), the replaced index's on a rebuild (tokens made anew: an analyser upgrade re-embeds
    nothing), the rest embedded in one pass; Kiwi tokens for chunk texts the index lacks."""
    chunk_texts = {text_key(c.text): c.text for c in chunks}
    sentence_texts = {k: t for per in sentences.values() for k, t in per.items()}
    found = Vectors({}, {})
    if current is not None:
        for key, (vector, tokens) in current.chunk_vectors(
            set(chunk_texts) | set(sentence_texts)
        ).items():
            found.vectors[key], found.tokens[key] = vector, tokens
        found.vectors |= current.sentence_vectors(
            [k for k in sentence_texts if k not in found.vectors]
        )
    new_chunks = {k: t for k, t in chunk_texts.items() if k not in found.tokens}
    if replaced is not None:
        found.reused = _reuse(found, replaced, [*new_chunks, *sentence_texts], list(sentence_texts))
    to_embed = _without(new_chunks, found.vectors)
    new_sentences = _without(_without(sentence_texts, found.vectors), to_embed)
    started = time.time()
    what = f"{len(to_embed)} chunks and {len(new_sentences)} evidence sentences"
    embedded = _embed([*to_embed.values(), *new_sentences.values()], settings, quiet, what)
    found.vectors |= dict(zip([*to_embed, *new_sentences], embedded))
    found.seconds = time.time() - started
    found.tokens |= dict(zip(new_chunks, chunk_keyword_tokens(list(new_chunks.values()))))
    found.embedded_chunks, found.embedded_sentences = len(to_embed), len(new_sentences)
    return found


def _without(texts: dict[str, str], known: dict) -> dict[str, str]:
    return {k: t for k, t in texts.items() if k not in known}


def _reuse(found: Vectors, replaced: Store, wanted: list[str], sentence_keys: list[str]) -> int:
    """Take the vectors the replaced index has for the ``wanted`` texts still missing (from its
    chunks, then its sentence table); returns how many."""
    before = len(found.vectors)
    missing = {k for k in wanted if k not in found.vectors}
    found.vectors |= {k: v for k, (v, _) in replaced.chunk_vectors(missing).items()}
    found.vectors |= replaced.sentence_vectors([k for k in sentence_keys if k not in found.vectors])
    return len(found.vectors) - before


def _embed(texts: list[str], settings: Settings, quiet: bool, what: str) -> np.ndarray:
    """Passage vectors of ``texts``, with a progress bar on stderr for long work."""
    from tqdm import tqdm

    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    embedder = get_embedder(settings)
    if not quiet:
        print(f"Embedding {what} …", file=sys.stderr, flush=True)
    hide = True if quiet or len(texts) < 64 else None  # None: shown on a terminal only
    with tqdm(
        total=len(texts), desc="Embedding", unit="text", file=sys.stderr, disable=hide
    ) as bar:
        return embedder.embed_passages(texts, progress=lambda done: bar.update(done - bar.n))


# Step 4: apply.
def changes(
    todo: Plan,
    chunks: list[Chunk],
    sentences: dict[str, dict[str, str]],
    found: Vectors,
    settings: Settings,
) -> Changes:
    """The one write an ingest makes."""
    rows = [text_key(c.text) for c in chunks]
    dim = len(found.vectors[rows[0]]) if rows else todo.dim or 384
    vectors = np.vstack([found.vectors[k] for k in rows]) if rows else np.zeros((0, dim))
    hashes = {k: h for k, (h, _) in todo.catalog.items() if k not in todo.removed}
    hashes |= {a.key: a.content_hash for a in todo.fresh}
    per_article = {a: {k: found.vectors[k] for k in per} for a, per in sentences.items()}
    tokens = [found.tokens[k] for k in rows]
    return Changes(
        expected_manifest(settings, dim, hashes),
        todo.fresh,
        todo.removed,
        chunks,
        tokens,
        vectors.astype(np.float32),
        per_article,
        rebuild=todo.rebuild,
    )


def ingest(
    paths: list, settings: Settings, rebuild: bool = False, quiet: bool = False
) -> IngestReport:
    """Bring the index up to date with the article files under ``paths`` (folders, files, and
    http(s) URLs given as strings: pages, feeds and sitemaps).

    Unchanged articles keep their chunks and vectors; a changed article is re-chunked and
    replaced (chunks whose text already has a vector reuse it); an article whose file is gone
    from a folder being ingested is removed. ``rebuild`` makes the index anew but keeps the
    vectors the index it replaces holds for the same texts, if that index is readable and of the
    same model (an analyser or chunker upgrade then costs Kiwi and chunking, not the embedding)."""
    started = time.time()
    report = IngestReport()
    store = stores.store_for(settings)
    expected = expected_manifest(settings)
    with store.writing():
        current = None if rebuild else _load_or_none(store, expected)
        replaced = _same_model_index(store, expected) if rebuild else None
        todo = plan(paths, current, report, settings)
        size = max(1, settings.ingest_batch)
        writes = -(-len(todo.fresh) // size) or int(current is None or bool(todo.removed))
        if not writes:
            report.chunks = current.size()  # nothing to write
        for n in range(1, writes + 1):
            part = todo.batch(size, current)
            if writes > 1 and not quiet:
                print(f"Batch {n} of {writes}: {len(part.fresh)} articles", file=sys.stderr)
            report.chunks, found, chunks = _write(part, current, replaced, store, settings, quiet)
            report.chunks_embedded += found.embedded_chunks
            report.sentences_embedded += found.embedded_sentences
            report.vectors_reused += found.reused
            report.embedding_seconds += found.seconds
            current = _load_or_none(store, expected)  # the next batch merges into this one
            if current is not None:
                report.copies += copies.at_ingest(current, part.fresh, _middles(chunks, found))
    report.seconds = time.time() - started
    return report


def _write(
    todo: Plan,
    current: Store | None,
    replaced: Store | None,
    store: Store,
    settings: Settings,
    quiet: bool,
) -> tuple[int, Vectors, list[Chunk]]:
    """Chunk, embed and write one plan's articles as one committed generation; the index's
    chunks after it, the vectors found and made, and the articles' chunks."""
    chunks, sentences = chunk(todo.fresh, settings)
    found = vectors_for(chunks, sentences, current, replaced, settings, quiet)
    target = current if current is not None else store
    return target.apply(changes(todo, chunks, sentences, found, settings)), found, chunks


def _middles(chunks: list[Chunk], found: Vectors) -> dict[str, np.ndarray]:
    """Each article's middle chunk's vector: a copy with other furniture, headline or ending
    still shares it."""
    per: dict[str, list[Chunk]] = {}
    for c in chunks:
        per.setdefault(c.article_key, []).append(c)
    return {key: found.vectors[text_key(cs[len(cs) // 2].text)] for key, cs in per.items()}


def _load_or_none(store: Store, expected: Manifest) -> Store | None:
    with contextlib.suppress(IndexMissing):
        return store.load(expected)
    return None


def _same_model_index(store: Store, expected: Manifest) -> Store | None:
    """The index a rebuild replaces, for its vectors: when it is readable and of the same model."""
    with contextlib.suppress(RagError):  # missing or damaged: nothing to keep
        old = store.load()
        if old.manifest.embedding_model == expected.embedding_model:
            return old
    return None


def migrate(settings: Settings, target: Settings) -> int:
    """Copy the whole index to ``target``'s store, vectors and all (nothing is re-embedded)."""
    destination = stores.store_for(target)
    source = open_index(settings)
    if (type(source), source.where) == (type(destination), destination.where):
        raise BadInput(
            "the migration's target is the index it would copy",
            "give --to another URL, folder or --to-collection",
        )
    exported = source.export()
    with destination.writing():
        return destination.apply(exported)
