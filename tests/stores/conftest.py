"""Real servers for the store tests, started once per test session from PyPI wheels: a
PostgreSQL 16 with pgvector (pgserver) and Milvus Lite in server mode (reached over its URI, as a
cluster is). Where one cannot start, its tests are skipped with the reason, and fail on CI."""

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


@pytest.fixture(scope="session")
def milvus_url(tmp_path_factory):
    """A real Milvus (Lite) gRPC server on a free local port, reached by URI as a cluster would
    be."""
    try:
        with servers.milvus(tmp_path_factory.mktemp("milvus")) as url:
            yield url
    except servers.ServerFailed as e:
        need(False, f"Milvus Lite ({e})")
