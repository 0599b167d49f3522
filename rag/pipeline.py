"""The one place that wires the stages together; the CLI, the web app and evals call these.

    ingest(paths, settings)    files → index on disk (incremental)
    open_index(settings)       the loaded index, cached per process
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import store
from .answer import Answer, answer_sentences
from .chunking import CHUNKER_VERSION, Chunk, chunk_article
from .errors import BadInput, IndexMissing, RagError
from .ingest import CLEANER_VERSION, Article, find_article_files, read_article
from .keyword import ANALYZER, chunk_keyword_tokens
from .settings import Settings
from .store import text_key


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
    vectors_reused: int = 0  # a rebuild's texts whose vectors the previous index already had
    seconds: float = 0.0
    embedding_seconds: float = 0.0  # of ``seconds``, spent running the model

    def summary(self) -> str:
        lines = [
            f"Indexed {self.articles} articles in {self.chunks} chunks ({self.seconds:.1f} s).",
            f"  new {len(self.added)}, changed {len(self.changed)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)}; {self.chunks_embedded} chunks and {self.sentences_embedded} answer sentences embedded.",
        ]
        if self.vectors_reused:
            lines.append(f"  {self.vectors_reused} vectors kept from the previous index (same model, same text).")
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)}:")
            lines += [f"    {path}: {why}" for path, why in self.skipped]
        return "\n".join(lines)


def expected_manifest(settings: Settings, dim: int = 0, articles: dict | None = None) -> store.Manifest:
    """The manifest an index built with ``settings`` has (the model is not loaded)."""
    from .embeddings import model_fingerprint

    chunking = {"tokenizer": "cl100k_base", "chunker": CHUNKER_VERSION, "max_tokens": settings.chunk_tokens,
                "overlap_tokens": settings.chunk_overlap_tokens, "cleaner": CLEANER_VERSION}
    return store.Manifest(store.FORMAT_VERSION, model_fingerprint(settings), dim, chunking, ANALYZER,
                          articles or {}, time.time())


def _progress_bar(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="text", file=sys.stderr, disable=quiet or total < 64 or None)


def ingest(paths: list[Path], settings: Settings, rebuild: bool = False, quiet: bool = False) -> IngestReport:
    """Bring the index up to date with the article files under ``paths``.

    Unchanged articles keep their chunks and vectors; a changed article is re-chunked
    and replaced (chunks whose text already has a vector reuse it); an article whose
    file is gone from a folder being ingested is removed. A file that cannot be read
    is skipped with its reason and keeps whatever version the index already had.
    ``rebuild`` makes the index anew but keeps the vectors the index it replaces holds for
    the same texts, if that index is readable and of the same model (an analyser or chunker
    upgrade then costs Kiwi and chunking, not the embedding: KorQuAD 45 → 6 s)."""
    started = time.time()
    report = IngestReport()
    with _writing(settings, rebuild) as (old, apply, replaced):
        files, report.skipped = find_article_files(paths)
        catalog = old.catalog() if old else {}  # article key -> (content hash, source)
        fresh: list[Article] = []
        seen: set[str] = set()
        for path in files:
            key = str(path.resolve())
            seen.add(key)
            try:
                article = read_article(path)
            except BadInput as e:
                report.skipped.append((str(path), e.message.split(": ", 1)[-1] + (f" ({e.hint})" if e.hint else "")))
                continue
            previous = catalog.get(key)
            if previous and previous[0] == article.content_hash:
                report.unchanged.append(article.source)
                continue
            (report.changed if previous else report.added).append(article.source)
            fresh.append(article)
        roots = [p.resolve() for p in paths if p.is_dir()]
        removed = [key for key in catalog if key not in seen and not Path(key).exists()
                   and any(Path(key).is_relative_to(r) for r in roots)]
        report.removed = [catalog[key][1] for key in removed]
        report.articles = len(catalog) + len(report.added) - len(removed)
        if old is not None and not fresh and not removed:
            report.chunks = old.size()
            report.seconds = time.time() - started
            return report  # nothing to write

        chunks: list[Chunk] = []
        for article in fresh:
            chunks += chunk_article(article.key, article.content_hash, article.text,
                                    settings.chunk_tokens, settings.chunk_overlap_tokens)
        # Vectors by text: what the store has is reused, the rest embedded in one pass; the
        # answer sentences too, so that answering looks their vectors up (see SentenceTable).
        sentences = {a.key: {text_key(t): t for t in answer_sentences(a.text)} for a in fresh}
        all_sentences = {k: t for per in sentences.values() for k, t in per.items()}
        chunk_keys = {text_key(c.text) for c in chunks}
        known = old.chunk_vectors(chunk_keys | set(all_sentences)) if old else {}
        known_sentences = old.sentence_vectors([k for k in all_sentences if k not in known]) if old else {}
        chunk_text = {text_key(c.text): c.text for c in chunks if text_key(c.text) not in known}
        # A rebuild keeps the vectors the previous index has for the same texts (same model):
        # only the keyword tokens are made anew (an analyser upgrade re-embeds nothing).
        reused = {}
        if replaced:
            reused = {k: v for k, (v, _) in replaced.chunk_vectors(set(chunk_text) | set(all_sentences)).items()}
            reused |= replaced.sentence_vectors([k for k in all_sentences if k not in reused])
        to_embed = {k: t for k, t in chunk_text.items() if k not in reused}
        new_sentences = {k: t for k, t in all_sentences.items()
                         if k not in known_sentences and k not in known and k not in chunk_text and k not in reused}
        t = time.time()
        embedded = dict(zip([*to_embed, *new_sentences], _embed(
            [*to_embed.values(), *new_sentences.values()], settings, quiet,
            f"{len(to_embed)} chunks and {len(new_sentences)} answer sentences")))
        report.embedding_seconds = time.time() - t
        embedded |= reused
        for (key, text), tokens in zip(chunk_text.items(), chunk_keyword_tokens(list(chunk_text.values()))):
            known[key] = (embedded[key], tokens)
        known_sentences.update((k, v) for k, v in embedded.items() if k in all_sentences and k not in known_sentences)
        known_sentences.update((k, known[k][0]) for k in all_sentences if k in known)

        rows = [known[text_key(c.text)] for c in chunks]
        dim = len(rows[0][0]) if rows else (old.manifest.dim if old else 384)
        vectors = np.vstack([v for v, _ in rows]).astype(np.float32) if rows else np.zeros((0, dim), dtype=np.float32)
        hashes = {k: h for k, (h, _) in catalog.items() if k not in removed} | {a.key: a.content_hash for a in fresh}
        report.chunks = apply(store.Changes(expected_manifest(settings, dim, hashes), fresh, removed, chunks, [t for _, t in rows],
                            vectors, {a: {k: known_sentences[k] for k in per} for a, per in sentences.items()},
                            rebuild=old is None))
        report.chunks_embedded, report.sentences_embedded = len(to_embed), len(new_sentences)
        report.vectors_reused = len(reused)
    report.seconds = time.time() - started
    return report


def _sentence_keys(article: Article) -> list[str]:
    return [text_key(t) for t in answer_sentences(article.text)]


@contextlib.contextmanager
def _writing(settings: Settings, rebuild: bool, keep_vectors: bool = True):
    """(the current index or None, a function applying ``store.Changes`` to it and returning the
    number of chunks then indexed, the index being replaced or None), under the store's write
    lock. The current index is None when there is none yet or ``rebuild`` is asked; then the
    index being replaced is offered for its vectors (FAISS, ``keep_vectors``), if it is
    readable and of the same model."""
    expected = expected_manifest(settings)
    if settings.store == "faiss":
        index_dir = Path(settings.index_dir)
        with store.write_lock(index_dir):
            old = replaced = None
            if not rebuild:
                with contextlib.suppress(IndexMissing):
                    old = store.load_index(index_dir, expected)
            elif keep_vectors:
                with contextlib.suppress(RagError):  # missing or damaged: nothing to keep
                    replaced = store.load_index(index_dir)
                if replaced is not None and replaced.manifest.embedding_model != expected.embedding_model:
                    replaced = None
            yield old, lambda changes: store.apply_changes(index_dir, old, changes, _sentence_keys,
                                                           settings.ivf_from, settings.ivf_nprobe), replaced
        _open_index.cache_clear()
        return
    server = server_store(settings)
    with server.writing():
        old = None
        if not rebuild:
            with contextlib.suppress(IndexMissing):
                old = server.load(expected)
        yield old, server.apply, None


def server_store(settings: Settings):
    """The server store (PostgreSQL or Milvus) named by ``settings.store`` and ``store_url``."""
    if settings.store == "pgvector":
        from .store_pg import PgStore

        return PgStore.connect(settings.store_url, settings.store_collection)
    if settings.store == "milvus":
        from .store_milvus import MilvusStore

        return MilvusStore.connect(settings.store_url, settings.store_collection)
    raise BadInput(f"unknown store {settings.store!r}", "set store to 'faiss', 'pgvector' or 'milvus'")


def has_index(settings: Settings) -> bool:
    try:
        open_index(settings)
        return True
    except IndexMissing:
        return False


def store_settings(settings: Settings, url: str, collection: str | None = None) -> Settings:
    """``settings`` pointed at the store a URL names: postgresql://…, milvus:// or http://host:port
    (Milvus), or a folder (FAISS files)."""
    from dataclasses import replace

    if re.match(r"postgres(ql)?(\+\w+)?://", url):
        return replace(settings, store="pgvector", store_url=url, store_collection=collection or settings.store_collection)
    if re.match(r"(milvus|https?)://", url):
        return replace(settings, store="milvus", store_url=url, store_collection=collection or settings.store_collection)
    if "://" in url and not url.startswith("file://"):
        raise BadInput(f"cannot tell which store {url!r} is", "give a postgresql://, milvus:// or http:// URL, or a folder")
    return replace(settings, store="faiss", index_dir=Path(url.removeprefix("file://")))


def migrate(settings: Settings, target: Settings) -> int:
    """Copy the whole index to ``target``'s store, vectors and all (nothing is re-embedded)."""
    where = lambda s: (s.store, s.store_url, s.store_collection) if s.store != "faiss" else (s.store, Path(s.index_dir).resolve())  # noqa: E731
    if where(settings) == where(target):
        raise BadInput("the migration's target is the index it would copy", "give --to another URL, folder or --to-collection")
    source = open_index(settings)
    changes = source.export(_sentence_keys)
    with _writing(target, rebuild=True, keep_vectors=False) as (_, apply, _replaced):
        return apply(changes)


def _embed(texts: list[str], settings: Settings, quiet: bool, what: str) -> np.ndarray:
    from .embeddings import get_embedder

    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    embedder = get_embedder(settings)
    if not quiet:
        print(f"Embedding {what} …", file=sys.stderr, flush=True)
    with _progress_bar(len(texts), "Embedding", quiet) as bar:
        done = [0]

        def step(n):
            bar.update(n - done[0])
            done[0] = n

        return embedder.embed_passages(texts, progress=step)


@functools.lru_cache(maxsize=4)
def _open_index(index_dir: Path, generation: str, settings: Settings) -> store.IndexData:
    return store.load_index(index_dir, expected_manifest(settings))


def open_index(settings: Settings) -> store.Store:
    """The live index for these settings: the FAISS files (reloaded when a writer swaps in a
    new generation), or the server store, whose manifest is read afresh."""
    if settings.store != "faiss":
        return server_store(settings).load(expected_manifest(settings))
    index_dir = Path(settings.index_dir)
    gen = store.current_generation(index_dir)
    return _open_index(index_dir, gen.name if gen else "", settings)



def search(query: str, settings: Settings, k: int | None = None, filters=None, mode: str = "hybrid"):
    """Ranked passages for ``query`` from the live index."""
    from .embeddings import get_embedder
    from .retrieve import search as retrieve

    index = open_index(settings)
    return retrieve(index, get_embedder(settings), query, settings, k=k, filters=filters, mode=mode)


class IndexedSentences:
    """The embedder, except that sentences embedded at ingest are looked up in the index:
    the composer then runs the model only on the question (KorQuAD ask p50 204 → 55 ms)."""

    def __init__(self, embedder, index: store.Store):
        self.embedder, self.index = embedder, index

    def embed_query(self, text: str) -> np.ndarray:
        return self.embedder.embed_query(text)

    def embed_passages(self, texts: list[str], progress=None) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        table = self.index.sentence_vectors(keys)
        found = [table.get(k) for k in keys]
        missing = [t for t, v in zip(texts, found) if v is None]
        fresh = iter(self.embedder.embed_passages(missing) if missing else ())
        return np.vstack([v if v is not None else next(fresh) for v in found]) if texts else self.embedder.embed_passages([])


FOLLOW_UP = re.compile(r"^(그럼|그러면|그게|그곳|그\s|이건|이거|저건|또|그리고|and |then |what about|how about)"
                       r"|\b(it|that|they|them|this|there|he|she)\b|그건|그거|그것|거기|그때", re.I)


def condense(question: str, history: list[tuple[str, str]], settings: Settings) -> str:
    """A follow-up made standalone. With an LLM, the LLM rewrites it; without one, a
    question that refers back ("그럼 그건 언제야?", "what about it?") or has fewer than
    three content words is prefixed with the previous standalone question."""
    if not history:
        return question
    if settings.backend != "extractive":
        from .llm import condense as llm_condense

        try:
            return llm_condense(question, history, settings)
        except RagError:
            pass
    from .keyword import keyword_tokens

    if FOLLOW_UP.search(question) or len(keyword_tokens([question])[0]) < 3:
        return f"{history[-1][0]} {question}"
    return question


def ask(question: str, settings: Settings, history: list[tuple[str, str]] | None = None, filters=None,
        on_token=None) -> Answer:
    """Answer one question with cited sentences, or abstain. ``history`` is [(standalone question, answer)]."""
    from dataclasses import replace

    from . import cite
    from .answer import ABSTAIN, compose, date_basis, language_of
    from .embeddings import get_embedder
    from .retrieve import check_query
    from .retrieve import search as retrieve

    timings = {}
    t = time.perf_counter()
    question = check_query(question, settings, "question")
    standalone = condense(question, history or [], settings)
    index = open_index(settings)
    embedder = get_embedder(settings)
    passages = retrieve(index, embedder, standalone, settings, filters=filters)
    timings["retrieve_ms"] = round((time.perf_counter() - t) * 1000, 1)
    t = time.perf_counter()
    lang = language_of(question)
    extractive = compose(standalone, passages, settings, IndexedSentences(embedder, index))
    answer, notes = extractive, []
    if not extractive.abstained:  # the same checker every backend's answer goes through
        failed = [c for c in cite.check(extractive.answer, [p.text for p in extractive.passages]) if not c.supported]
        if failed:
            notes = [f"extractive sentence failed the citation check ({c.reason})" for c in failed]
    if settings.backend != "extractive" and passages:
        from .llm import generate

        try:
            text = generate(question, passages, lang, settings, on_token)
            answer, notes = _checked_llm_answer(text, passages, lang, settings, extractive)
        except RagError as e:
            notes = [f"{e.message}; {e.hint}" if e.hint else e.message]
    timings["answer_ms"] = round((time.perf_counter() - t) * 1000, 1)
    if not answer.abstained:
        note = date_basis(answer.citations, lang)
        answer = replace(answer, answer=f"{answer.answer} {note}", date_note=note)
    elif answer.answer != ABSTAIN[lang]:
        answer = replace(answer, answer=ABSTAIN[lang])
    return replace(answer, question=question, language=lang, notes=notes + answer.notes,
                   timings={**timings, "standalone_question": standalone} if standalone != question else timings)


def _checked_llm_answer(text, passages, lang, settings, extractive):
    """Keep the LLM's supported sentences (flag or drop the rest); none left → extractive answer."""
    from dataclasses import replace

    from . import cite
    from .answer import ABSTAIN, Citation

    if not text:
        return extractive, ["the LLM returned no text; showing the extractive answer"]
    if text.strip() == ABSTAIN[lang]:
        return replace(extractive, answer=ABSTAIN[lang], abstained=True, citations=[]), ["the LLM abstained"]
    checks = cite.check(text, [p.text for p in passages])
    kept, notes = [], []
    for c in checks:
        if c.supported:
            kept.append(c.text)
        elif settings.unsupported == "flag":
            kept.append(f"{c.text} ⚠️(unsupported: {c.reason})")
        else:
            notes.append(f"removed unsupported sentence ({c.reason}): {c.text[:80]}")
    if not any(c.supported for c in checks):
        notes.append("no LLM sentence was supported by the passages; showing the extractive answer")
        return extractive, notes
    citations, seen = [], set()
    for c in checks:
        if c.supported:
            for n in c.cited:
                if n not in seen:
                    seen.add(n)
                    p = passages[n - 1]
                    citations.append(Citation.of(n, p, p.text, p.start, p.end))
    return replace(extractive, answer=" ".join(kept), abstained=False, citations=citations, passages=passages), notes
