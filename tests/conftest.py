"""Shared fixtures: real seed articles, the real model, real index files under tmp dirs."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
KORQUAD = Path(os.environ.get("RAG_KORQUAD", ROOT.parent / "shared" / "benchmarks" / "korquad" / "KorQuAD_v1.0_dev.json"))
os.environ.setdefault("RAG_CACHE_DIR", str(ROOT / ".cache" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def make_settings(index_dir, **extra):
    from rag.settings import load_settings

    return load_settings({"index_dir": str(index_dir), **extra})


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory):
    """Settings pointing at an index of the four seed articles, built once per session."""
    from rag.pipeline import ingest

    settings = make_settings(tmp_path_factory.mktemp("seed-index") / "vectorstore")
    ingest([SEEDS], settings, quiet=True)
    return settings


@pytest.fixture
def corpus(tmp_path):
    """A writable copy of the seed folder."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder


def korquad():
    if not KORQUAD.is_file():
        pytest.skip(f"KorQuAD dev set not found at {KORQUAD} (set RAG_KORQUAD)")
    return json.loads(KORQUAD.read_text(encoding="utf-8"))


def run_cli(*args, cwd=ROOT, env=None, input=None, timeout=600):
    """The real `rag` command as a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], cwd=cwd, env=full_env, input=input,
                          capture_output=True, text=True, timeout=timeout)
