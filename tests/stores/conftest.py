"""Real servers for the store tests, started once per test session from PyPI wheels: a
PostgreSQL 16 with pgvector (pgserver) and Milvus Lite in server mode (reached over its URI, as a
cluster is). Where one cannot start, its tests are skipped with the reason, and fail on CI."""

import contextlib
import subprocess
import sys

import pytest
from helpers import need

from rag.bench import servers


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory):
    """A real PostgreSQL 16 server with pgvector, from the pgserver wheel, for this test session."""
    try:
        with servers.postgres(tmp_path_factory.mktemp("pg")) as url:
            yield url
    except servers.ServerFailed as e:
        need(False, f"PostgreSQL ({e})")


class MilvusServer:
    """One Milvus Lite server for the test session, started again when it no longer accepts a
    client: in a full run it idles through the PostgreSQL tests between its own, and has been
    seen to stop answering after that (its log silent, every later test unable to connect)."""

    def __init__(self, tmp_path_factory):
        self.factory, self.stack, self.url = tmp_path_factory, contextlib.ExitStack(), None

    def live_url(self) -> str:
        if self.url is None or not _answers(self.url):
            self.stack.close()
            self.stack = contextlib.ExitStack()
            try:
                self.url = self.stack.enter_context(servers.milvus(self.factory.mktemp("milvus")))
            except servers.ServerFailed as e:
                need(False, f"Milvus Lite ({e})")
        return self.url


def _answers(url: str) -> bool:
    """Whether the server lists its collections within 30 s. In a child process: a client of a
    server that hangs can hang with it, whatever its own timeout says."""
    probe = (
        "from pymilvus import MilvusClient; "
        f"MilvusClient(uri={url!r}, timeout=15).list_collections()"
    )
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    try:
        return subprocess.run([sys.executable, "-c", probe], timeout=30, **quiet).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    server = MilvusServer(tmp_path_factory)
    yield server
    server.stack.close()


@pytest.fixture
def milvus_url(milvus_server):
    """A real Milvus (Lite) gRPC server on a free local port, reached by URI as a cluster would
    be; checked to answer before each test."""
    return milvus_server.live_url()
