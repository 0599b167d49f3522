"""Shared fixtures: real seed articles, the real model, real index files under tmp dirs.

Layout: ``unit/`` (no model, no index), ``integration/`` (the real model, real index files, the
real CLI as a subprocess), ``stores/`` (the Store contract on FAISS and on real PostgreSQL and
Milvus servers), ``fronts/`` (the web chat in Debian's Chromium). ``helpers.py`` holds what the
tests import."""

import os
import shutil

import pytest
from helpers import ROOT, SEEDS, make_settings

os.environ.setdefault("RAG_CACHE_DIR", str(ROOT / ".cache" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory):
    """Settings pointing at an index of the four seed articles, built once per session."""
    from rag.indexing import ingest

    settings = make_settings(tmp_path_factory.mktemp("seed-index") / "vectorstore")
    ingest([SEEDS], settings, quiet=True)
    return settings


@pytest.fixture
def corpus(tmp_path):
    """A writable copy of the seed folder."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder
