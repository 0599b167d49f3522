"""The web chat's history: on a real PostgreSQL (``chat_history = postgresql://…``) the tables
are created, Chainlit's data layer writes a thread, an answer and a rating through psycopg, and
`rag feedback export` reads the rating back as an evaluation case; on the default SQLite file,
many chats write at once through its one queued connection and nothing is lost."""

import asyncio
import json
import uuid

from rag.history import create_tables, data_layer, history_url, rated_answers
from rag.settings import load_settings

INSERT_STEP = (
    'INSERT INTO steps ("id", "name", "type", "threadId", "parentId", "streaming", '
    '"output", "metadata") VALUES (:id, :name, :type, :thread, :parent, false, :output, '
    ":metadata)"
)


def test_history_on_postgresql_keeps_answers_and_ratings(pg_url, tmp_path):
    from chainlit.types import Feedback

    settings = load_settings({"index_dir": str(tmp_path / "index"), "chat_history": pg_url})
    assert history_url(settings).startswith("postgresql+psycopg://")
    create_tables(settings)
    create_tables(settings)  # again: nothing to do, no error
    thread, run, answer = (str(uuid.uuid4()) for _ in range(3))
    record = {
        "question": "그럼 언제야?",
        "asked": "전작권 전환 검증은 언제까지 하나? 그럼 언제야?",
        "answer": "2026년까지 검증한다. [1]",
        "abstained": False,
        "citations": [{"chunk_id": "c-1", "source": "a.txt", "title": "t", "text": "2026년"}],
    }

    async def chat():
        layer = data_layer(settings)
        await layer.update_thread(thread, name="전작권")
        for step, kind, parent, meta in (
            (run, "run", None, {}),
            (answer, "assistant_message", run, {"rag": record}),
        ):
            await layer.execute_sql(
                INSERT_STEP,
                {
                    "id": step,
                    "name": kind,
                    "type": kind,
                    "thread": thread,
                    "parent": parent,
                    "output": record["answer"],
                    "metadata": json.dumps(meta, ensure_ascii=False),
                },
            )
        await layer.upsert_feedback(Feedback(forId=run, value=0, threadId=thread, comment="틀림"))
        found = await layer.get_thread(thread)
        await layer.close()
        return found

    found = asyncio.run(chat())
    assert found and found["name"] == "전작권" and len(found["steps"]) == 2
    cases = rated_answers(settings)  # the rating sits on the run; the answer is its child
    assert len(cases) == 1
    case = cases[0]
    assert case["question"] == record["asked"] and case["rating"] == "down"
    assert case["comment"] == "틀림" and case["citations"][0]["chunk_id"] == "c-1"


def test_sqlite_history_keeps_every_write_of_many_chats_at_once(tmp_path):
    """The default SQLite history: 50 chats write at once through the one queued connection;
    every thread, answer and rating is there after, a chat reads what it wrote, and a statement
    that fails loses nothing else of its batch."""
    from chainlit.types import Feedback

    settings = load_settings({"index_dir": str(tmp_path / "index")})
    create_tables(settings)
    record = {"question": "q", "answer": "a [1]", "abstained": False, "citations": []}

    async def one_chat(layer, n):
        thread = str(uuid.uuid4())
        await layer.update_thread(thread, name=f"대화 {n}")
        steps = [str(uuid.uuid4()) for _ in range(4)]
        for step in steps:  # as Chainlit writes an answer (create_step needs a live chat)
            await layer.execute_sql(
                INSERT_STEP,
                {"id": step, "name": "a", "type": "assistant_message", "thread": thread,
                 "parent": None, "output": f"답 {n}", "metadata": json.dumps({"rag": record})},
            )  # fmt: skip
        await layer.upsert_feedback(Feedback(forId=steps[-1], value=n % 2, threadId=thread))
        found = await layer.get_thread(thread)  # read straight after its own writes
        return found["name"], len(found["steps"])

    async def chats():
        layer = data_layer(settings)
        found = await asyncio.gather(
            *(one_chat(layer, n) for n in range(50)),
            layer.execute_sql("INSERT INTO nowhere VALUES (1)", {}),  # fails, alone
        )
        await layer.close()
        return found

    *found, failed = asyncio.run(chats())
    assert failed is None
    assert sorted(found) == sorted((f"대화 {n}", 4) for n in range(50))
    cases = rated_answers(settings)
    assert len(cases) == 50 and sum(c["rating"] == "up" for c in cases) == 25
