"""Local database servers from PyPI wheels, for tests and benchmarks of the server stores:
a PostgreSQL 16 with pgvector (pgserver) and Milvus Lite in server mode (reached over its
URI, as a cluster is). Production points ``store_url`` at its own servers instead."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..errors import RagError


class ServerFailed(RagError):
    """A local server could not start on this machine."""


@contextlib.contextmanager
def postgres(folder: Path):
    """A PostgreSQL server with the vector extension, data in ``folder``; yields its URL."""
    try:
        import pgserver

        server = pgserver.get_server(Path(folder), cleanup_mode="stop")
        server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    except Exception as e:  # noqa: BLE001 - whatever stops it, the user needs the reason
        raise ServerFailed(
            f"PostgreSQL (pgserver) could not start: {type(e).__name__}: {str(e)[:300]}",
            "pip install -e .[test], or point store_url at a running server",
        ) from None
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def milvus(folder: Path, timeout: float = 60):
    """A Milvus Lite gRPC server on a free local port, data in ``folder``; yields its URL."""
    exe = Path(sys.executable).with_name("milvus-lite")
    if not exe.exists():
        raise ServerFailed(
            "milvus-lite is not installed",
            "pip install -e .[test], or point store_url at a Milvus server",
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(folder / "server.log", "w+") as log:
        proc = subprocess.Popen(
            [
                str(exe),
                "server",
                "--data-dir",
                str(folder / "data"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.time() + timeout
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=1),
                ):
                    break
                if proc.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    raise ServerFailed(
                        f"Milvus Lite could not start: {log.read()[-400:]}",
                        "see the log above; point store_url at a Milvus server instead",
                    )
                time.sleep(0.3)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
