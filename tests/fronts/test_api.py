"""The HTTP API: `rag serve` as a subprocess, called with the `openai` client (plain and
streaming), LangChain's ChatOpenAI, and plain HTTP for search, ingest, models, health, metrics
and every kind of bad request."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest
from helpers import ROOT, SEEDS, make_settings, quoted_in

READ, ADMIN = "read-key-123", "admin-key-456"
QUESTION = "한미 공급망·산업 대화 양해각서에 서명한 한국 장관은 누구인가?"
UNANSWERABLE = "한국의 2025년 국방 예산은 몇 조 원인가?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from rag.indexing import ingest

    folder = tmp_path_factory.mktemp("api")
    shutil.copytree(SEEDS, folder / "corpus")
    ingest([folder / "corpus"], make_settings(folder / "index"), quiet=True)
    port = _free_port()
    env = {**os.environ, "RAG_API_KEYS": READ, "RAG_API_ADMIN_KEYS": ADMIN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)]
        + ["--index", str(folder / "index")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read())
        time.sleep(0.5)
    else:
        proc.kill()
        raise AssertionError("rag serve did not answer /healthz in 120 s")
    yield base, folder
    proc.terminate()
    proc.wait(timeout=30)


def _client(base, key=READ):
    from openai import OpenAI

    return OpenAI(base_url=base + "/v1", api_key=key)


def test_the_openai_client_gets_a_cited_answer_and_an_abstention(api):
    base, _ = api
    reply = _client(base).chat.completions.create(
        model="rag-extractive", messages=[{"role": "user", "content": QUESTION}]
    )
    message = reply.choices[0].message
    assert "이창양" in message.content and "[1]" in message.content and "출처:" in message.content
    extra = message.model_extra
    assert not extra["abstained"] and extra["citations"][0]["source"].startswith("003_")
    assert quoted_in(extra["citations"][0]["text"], message.content)
    no = _client(base).chat.completions.create(
        model="rag-extractive", messages=[{"role": "user", "content": UNANSWERABLE}]
    )
    assert no.choices[0].message.model_extra["abstained"]


def test_streaming_sends_the_same_checked_answer_then_the_citations(api):
    base, _ = api
    client = _client(base)
    messages = [{"role": "user", "content": QUESTION}]
    whole = client.chat.completions.create(model="rag-extractive", messages=messages)
    chunks = list(
        client.chat.completions.create(model="rag-extractive", messages=messages, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop" and last.delta.model_extra["citations"]


def test_langchain_chat_openai_works_against_it(api):
    from langchain_openai import ChatOpenAI

    base, _ = api
    llm = ChatOpenAI(base_url=base + "/v1", api_key=READ, model="rag-extractive")
    assert "이창양" in llm.invoke(QUESTION).content


def test_search_models_health_and_metrics(api):
    base, _ = api
    auth = {"Authorization": f"Bearer {READ}"}
    found = httpx.post(
        base + "/v1/search",
        json={"query": "전작권 전환", "k": 2, "since": "2025-01-01"},
        headers=auth,
    ).json()
    assert len(found["passages"]) == 2
    assert all(p["published"] >= "2025" for p in found["passages"])
    models = httpx.get(base + "/v1/models", headers=auth).json()
    assert [m["id"] for m in models["data"]] == ["rag-extractive"]
    assert httpx.get(base + "/healthz").json()["chunks"] > 0  # open, for probes
    metrics = httpx.get(base + "/metrics", headers=auth).text
    assert 'rag_requests_total{path="/v1/search",status="200"}' in metrics
    assert "rag_request_seconds_bucket" in metrics and "rag_index_chunks " in metrics


@pytest.mark.parametrize(
    "headers, body, status, phrase",
    [
        ({}, {"messages": [{"role": "user", "content": "x"}]}, 401, "API key"),
        ({"Authorization": "Bearer wrong"}, {}, 401, "API key"),
        (None, "{not json", 400, "not JSON"),
        (None, {"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}, 404, "unknown"),
        (None, {"messages": []}, 400, "non-empty"),
        (None, {"messages": [{"role": "user", "content": "a" * 100_000}]}, 400, "2,000 limit"),
        (None, {"messages": [{"role": "user", "content": "가" * 100_000}]}, 413, "KB"),
    ],
)
def test_bad_requests_get_the_right_status_and_a_message(api, headers, body, status, phrase):
    base, _ = api
    headers = {"Authorization": f"Bearer {READ}"} if headers is None else headers
    data = body if isinstance(body, str) else json.dumps(body)
    r = httpx.post(base + "/v1/chat/completions", content=data, headers=headers, timeout=60)
    assert r.status_code == status, r.text
    assert phrase in r.json()["error"]["message"] + r.json()["error"]["hint"]
    assert httpx.get(base + "/healthz").status_code == 200  # still serving


def test_ingest_needs_an_admin_key_runs_one_at_a_time_and_answers_after(api):
    base, folder = api
    article = folder / "new.txt"
    article.write_text(
        "한미 해양 협력 확대\n양국은 12일 부산에서 해양 안보 협의체를 출범시켰다. "
        "협의체 초대 의장은 김해양 해군 제독이 맡는다.\n",
        encoding="utf-8",
    )
    body = {"paths": [str(article)]}
    read = httpx.post(base + "/v1/ingest", json=body, headers={"Authorization": f"Bearer {READ}"})
    assert read.status_code == 403
    admin = {"Authorization": f"Bearer {ADMIN}"}
    job = httpx.post(base + "/v1/ingest", json=body, headers=admin).json()
    second = httpx.post(base + "/v1/ingest", json=body, headers=admin)
    assert second.status_code == 409 and "already running" in second.json()["error"]["message"]
    for _ in range(120):
        state = httpx.get(base + job["poll"], headers=admin).json()
        if state["state"] != "running":
            break
        time.sleep(0.5)
    assert state["state"] == "done" and state["added"] == ["new.txt"], state
    reply = _client(base).chat.completions.create(
        model="rag-extractive",
        messages=[{"role": "user", "content": "해양 안보 협의체 초대 의장은 누구인가?"}],
    )
    assert "김해양" in reply.choices[0].message.content


def test_a_client_that_leaves_mid_stream_does_not_stop_the_server(api):
    base, _ = api
    headers = {"Authorization": f"Bearer {READ}"}
    body = {"stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with httpx.stream("POST", base + "/v1/chat/completions", json=body, headers=headers) as r:
        next(r.iter_lines())  # one line, then hang up
    assert httpx.get(base + "/healthz").status_code == 200
    assert _client(base).models.list().data[0].id == "rag-extractive"


def test_a_burst_waits_its_turn_and_only_an_overflow_is_refused():
    """Two answers at once, three more wait; a sixth request is refused at once (503), a waiter
    gets its turn when one finishes, and one that waits too long gives up."""
    import asyncio

    from rag.api import Admission

    async def burst():
        gate = Admission(running=2, waiting=3, patience=2)
        assert await gate.enter() and await gate.enter()
        waiters = [asyncio.create_task(gate.enter()) for _ in range(3)]
        await asyncio.sleep(0.05)
        overflow = await gate.enter()
        gate.release()
        gate.release()
        await asyncio.sleep(0.05)
        early = [w.result() for w in waiters if w.done()]
        late = await asyncio.gather(*[w for w in waiters if not w.done()])
        return overflow, early, late

    overflow, early, late = asyncio.run(burst())
    assert overflow is False and early == [True, True] and late == [False]  # patience ran out
