"""The web chat's conversations and ratings, kept by Chainlit's SQLAlchemy data layer, and the
rated answers exported as evaluation cases.

    rag feedback export [--out feedback.jsonl]     rated answers → cases `rag eval feedback` runs

Where: a SQLite file beside the index by default (``<index>-chat.sqlite3``), PostgreSQL when
``chat_history`` is a ``postgresql://`` URL, nowhere when it is ``off``. The tables are
Chainlit's documented schema, created on first use. Each answer's step carries the answer as
``rag answer --json`` gives it (``metadata.rag``), so a rating can be turned into a case with
the question, the answer given, the rating and comment, and the passages it cited.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import queue
import re
import sqlite3
import threading
from pathlib import Path

from .errors import BadInput
from .settings import Settings

logger = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS users ("id" UUID PRIMARY KEY, "identifier" TEXT NOT NULL UNIQUE,
    "metadata" JSONB NOT NULL, "createdAt" TEXT)""",
    """CREATE TABLE IF NOT EXISTS threads ("id" UUID PRIMARY KEY, "createdAt" TEXT, "name" TEXT,
    "userId" UUID, "userIdentifier" TEXT, "tags" TEXT[], "metadata" JSONB,
    FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE)""",
    """CREATE TABLE IF NOT EXISTS steps ("id" UUID PRIMARY KEY, "name" TEXT NOT NULL,
    "type" TEXT NOT NULL, "threadId" UUID NOT NULL, "parentId" UUID, "streaming" BOOLEAN NOT NULL,
    "waitForAnswer" BOOLEAN, "isError" BOOLEAN, "metadata" JSONB, "tags" TEXT[], "input" TEXT,
    "output" TEXT, "createdAt" TEXT, "command" TEXT, "modes" JSONB, "start" TEXT, "end" TEXT,
    "generation" JSONB, "showInput" TEXT, "language" TEXT, "indent" INT, "defaultOpen" BOOLEAN,
    "autoCollapse" BOOLEAN, "icon" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)""",
    """CREATE TABLE IF NOT EXISTS elements ("id" UUID PRIMARY KEY, "threadId" UUID, "type" TEXT,
    "url" TEXT, "chainlitKey" TEXT, "name" TEXT NOT NULL, "display" TEXT, "objectKey" TEXT,
    "size" TEXT, "page" INT, "language" TEXT, "forId" UUID, "mime" TEXT, "props" JSONB,
    "autoPlay" BOOLEAN, "playerConfig" JSONB,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)""",
    """CREATE TABLE IF NOT EXISTS feedbacks ("id" UUID PRIMARY KEY, "forId" UUID NOT NULL,
    "threadId" UUID NOT NULL, "value" INT NOT NULL, "comment" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE)""",
]


def history_url(settings: Settings, driver: str = "async") -> str | None:
    """The SQLAlchemy URL of the chat history (``driver``: 'async' for Chainlit, 'sync' for the
    export), or None when history is off."""
    where = settings.chat_history.strip()
    if where.lower() in ("off", "none", "no"):
        return None
    if where.startswith(("postgresql://", "postgres://", "postgresql+")):
        rest = where.split("://", 1)[1]
        return f"postgresql+psycopg://{rest}"  # psycopg 3 is sync and async: one driver for both
    path = Path(where) if where else history_file(settings)
    return f"sqlite+{'aiosqlite' if driver == 'async' else 'pysqlite'}:///{path.resolve()}"


def history_file(settings: Settings) -> Path:
    index = Path(settings.index_dir)
    return index.parent / f"{index.name}-chat.sqlite3"


def create_tables(settings: Settings) -> None:
    """Chainlit's tables, if they are not there yet (run before the server starts)."""
    from sqlalchemy import create_engine, text

    url = history_url(settings, "sync")
    engine = create_engine(url)
    with engine.begin() as db:
        if url.startswith("sqlite"):  # readers never wait for the writer; it stays set in the file
            db.execute(text("PRAGMA journal_mode=WAL"))
        for statement in SCHEMA:
            db.execute(text(statement))
    engine.dispose()


def data_layer(settings: Settings, files: Path | None = None):
    """Chainlit's SQLAlchemy data layer on the history database, or None when history is off.
    ``files``: the web app's ``public`` folder, where the answers' source panels are kept so a
    resumed conversation can open them again."""
    url = history_url(settings)
    if url is None:
        return None
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

    storage = PanelFiles(files) if files else None
    if not url.startswith("sqlite"):
        return SQLAlchemyDataLayer(conninfo=url, storage_provider=storage)

    class QueuedSQLite(SQLAlchemyDataLayer):
        """The same layer, its SQL run by one ``SQLiteQueue`` (every query goes through
        ``execute_sql``)."""

        def __init__(self, path: Path):
            super().__init__(conninfo=url, storage_provider=storage)
            self.queue = SQLiteQueue(path)

        async def execute_sql(self, query: str, parameters: dict):
            try:
                result = await self.queue.run(query, parameters)
            except Exception as e:  # as the layer itself does: a warning, no result
                logger.warning("chat history: %s", e)
                return None
            return self.clean_result(result) if isinstance(result, list) else result

        async def close(self) -> None:
            self.queue.close()
            await super().close()

    return QueuedSQLite(Path(url.split(":///", 1)[1]))


class SQLiteQueue:
    """One thread owns the chat history's SQLite connection. Every chat's statements queue for
    it, and each time it wakes it runs all that wait in one transaction: one commit and one
    switch of threads per batch, not per statement. Through SQLAlchemy's async driver each
    statement was a session of its own (begin, execute, commit, each a hop to aiosqlite's thread,
    each waiting for Python's lock while answers are computed); at 50 chats the writes fell
    behind the answers, the queue of waiting writes grew without end, and new chats could not
    connect behind it. A statement's result is given once its batch is committed, so a chat
    reads what it wrote."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            self.db.execute(f"PRAGMA {pragma}")  # WAL: no fsync per commit, readers never wait
        self.pending: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="chat-history", daemon=True).start()

    async def run(self, sql: str, parameters: dict):
        """Rows as dicts for a query that returns rows, else the count of rows changed."""
        done: concurrent.futures.Future = concurrent.futures.Future()
        self.pending.put((sql, parameters, done))
        return await asyncio.wrap_future(done)

    def close(self) -> None:
        self.pending.put(None)

    def _serve(self) -> None:
        db, closing = self.db, False
        while not closing:
            batch = [self.pending.get()]  # waits for one, then takes all that wait
            while not self.pending.empty():
                batch.append(self.pending.get())
            closing = None in batch
            self._commit(db, [item for item in batch if item is not None])
        db.close()

    @staticmethod
    def _commit(db: sqlite3.Connection, batch: list) -> None:
        """Run the statements in one transaction, then give each its result or its error."""
        outcomes = []
        db.execute("BEGIN")
        for sql, parameters, done in batch:
            if not done.set_running_or_notify_cancel():
                continue  # its chat went away while it waited
            try:
                cursor = db.execute(sql, parameters)
                rows = [dict(r) for r in cursor.fetchall()]
                outcomes.append((done, rows if cursor.description else cursor.rowcount))
            except Exception as e:  # that statement alone is undone, never the thread
                outcomes.append((done, e))
        try:
            db.execute("COMMIT")
        except sqlite3.Error as e:
            db.execute("ROLLBACK")
            outcomes = [(done, e) for done, _ in outcomes]
        for done, outcome in outcomes:
            if isinstance(outcome, Exception):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)


class PanelFiles:
    """Chainlit's storage for elements, as files in the web app's ``public`` folder (served at
    /public): the source panels of past answers. Named by Chainlit's random element ids."""

    def __init__(self, public: Path):
        self.folder = Path(public) / "panels"

    def _path(self, key: str) -> Path:
        return self.folder / re.sub(r"[^\w.-]+", "_", key)

    async def upload_file(self, object_key, data, mime="text/plain", overwrite=True, **_):
        path = self._path(object_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return {"object_key": object_key, "url": await self.get_read_url(object_key)}

    async def delete_file(self, object_key: str) -> bool:
        self._path(object_key).unlink(missing_ok=True)
        return True

    async def get_read_url(self, object_key: str) -> str:
        return f"/public/panels/{self._path(object_key).name}"

    async def close(self) -> None:
        pass


def rated_answers(settings: Settings) -> list[dict]:
    """Every rated answer, oldest first, as an evaluation case."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError, ProgrammingError

    url = history_url(settings, "sync")
    if url is None:
        raise BadInput("chat history is off", "set chat_history (rag.toml or RAG_CHAT_HISTORY)")
    query = text(  # a rating is kept on the answer's step or on the run that holds it
        'SELECT f."value", f."comment", s."metadata", s."createdAt" FROM feedbacks f '
        'JOIN steps s ON s."id" = f."forId" OR s."parentId" = f."forId" ORDER BY s."createdAt"'
    )
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            rows = db.execute(query).all()
    except (OperationalError, ProgrammingError):
        raise BadInput(
            f"no chat history at {url}", "start `rag web`, ask and rate an answer first"
        ) from None
    finally:
        engine.dispose()
    return [case for row in rows if (case := _case(*row))]


def _case(value, comment, metadata, created) -> dict | None:
    meta = json.loads(metadata) if isinstance(metadata, str) else metadata or {}
    answer = meta.get("rag")
    if not answer:  # a rating on something that is not an answer (an upload summary)
        return None
    return {
        "question": answer.get("asked") or answer["question"],  # a follow-up made standalone
        "rating": "up" if int(value) == 1 else "down",
        "comment": comment or "",
        "answer": answer["answer"],
        "abstained": answer["abstained"],
        "citations": [
            {k: c.get(k) for k in ("chunk_id", "source", "title", "text")}
            for c in answer.get("citations", [])
        ],
        "asked_at": created,
    }


def export(settings: Settings, out: Path) -> int:
    """Write the rated answers to ``out`` (JSON lines); how many."""
    cases = rated_answers(settings)
    out.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8"
    )
    return len(cases)
