"""Load on the HTTP API: many clients at once, each asking in a loop, half of them streaming.

    rag bench api [--url URL] [--clients 50] [--seconds 180] [--out FILE]

Each client is one API key (50 clients, 50 keys: the per-key rate limit applies to each as to
a person) and asks the seed questions in turn through ``/v1/chat/completions``; odd clients
stream (SSE) and are timed to their first content chunk as well. It reports requests per
second, latency percentiles, errors (any status but 200, a stream without ``[DONE]``), the
server's memory over the run, and, in the same run, a cold `rag ask` process on the same
question, which is what a script pays per question without the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field

from ..eval.metrics import latency
from .webload import QUESTIONS, memory_text, rss_mb, serve, spread


@dataclass
class Load:
    """What the clients of one run share: the server, the answers' timings, the errors."""

    url: str
    timeout: float
    plain_ms: list[float] = field(default_factory=list)
    stream_first_ms: list[float] = field(default_factory=list)
    stream_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _body(question: str, stream: bool) -> dict:
    return {
        "model": "rag-extractive",
        "stream": stream,
        "messages": [{"role": "user", "content": question}],
    }


async def _plain(http, load: Load, key: str, question: str) -> None:
    sent = time.perf_counter()
    r = await http.post(
        load.url + "/v1/chat/completions",
        json=_body(question, False),
        headers={"Authorization": f"Bearer {key}"},
    )
    if r.status_code != 200:
        load.errors.append(f"{r.status_code}: {r.text[:120]}")
        return
    load.plain_ms.append((time.perf_counter() - sent) * 1000)


async def _streamed(http, load: Load, key: str, question: str) -> None:
    sent, first, done = time.perf_counter(), None, False
    async with http.stream(
        "POST",
        load.url + "/v1/chat/completions",
        json=_body(question, True),
        headers={"Authorization": f"Bearer {key}"},
    ) as r:
        if r.status_code != 200:
            load.errors.append(f"{r.status_code}: {(await r.aread())[:120]!r}")
            return
        async for line in r.aiter_lines():
            if line == "data: [DONE]":
                done = True
            elif first is None and line.startswith("data: "):
                delta = json.loads(line[6:])["choices"][0]["delta"]
                first = time.perf_counter() if delta.get("content") else None
    if not done:
        load.errors.append("a stream ended without [DONE]")
        return
    now = time.perf_counter()
    load.stream_first_ms.append(((first or now) - sent) * 1000)
    load.stream_ms.append((now - sent) * 1000)


async def _client(n: int, load: Load, deadline: float) -> None:
    """Client ``n``: its own key, asking one seed question after another until ``deadline``."""
    import httpx

    ask = _streamed if n % 2 else _plain
    async with httpx.AsyncClient(timeout=load.timeout) as http:
        i = n
        while time.time() < deadline:
            try:
                await ask(http, load, key_of(n), QUESTIONS[i % len(QUESTIONS)])
            except Exception as e:  # noqa: BLE001 - counted and reported, the run goes on
                load.errors.append(f"{type(e).__name__}: {e}")
            i += 1


def key_of(n: int) -> str:
    return f"bench-client-{n:03d}"


async def _load(load: Load, clients: int, seconds: float, pid: int | None) -> dict:
    memory: list[float] = []
    await _client(0, Load(load.url, 300), time.time() + 1)  # warm-up: one question
    deadline = time.time() + seconds
    tasks = [asyncio.create_task(_client(n, load, deadline)) for n in range(clients)]
    started = time.time()
    while not all(t.done() for t in tasks):
        if pid:
            memory.append(round(rss_mb(pid), 1))
        done = len(load.plain_ms) + len(load.stream_ms)
        print(
            f"  {time.time() - started:5.0f} s: {done} answered, {len(load.errors)} failed"
            + (f", server RSS {memory[-1]:.0f} MB" if memory else ""),
            file=sys.stderr,
            flush=True,
        )
        await asyncio.wait(tasks, timeout=10)
    return {"memory": memory, "seconds": time.time() - started}


def run(
    url: str, clients: int, seconds: float, pid: int | None = None, timeout: float = 120.0
) -> dict:
    """``clients`` concurrent API clients for ``seconds``."""
    load = Load(url, timeout)
    raw = asyncio.run(_load(load, clients, seconds, pid))
    answered = len(load.plain_ms) + len(load.stream_ms)
    memory = raw["memory"]
    return {
        "clients": clients,
        "seconds": round(raw["seconds"], 1),
        "answered": answered,
        "requests_per_s": round(answered / raw["seconds"], 1),
        "failed": len(load.errors),
        "errors": load.errors[:20],
        "plain_ms": latency(load.plain_ms),
        "stream_first_token_ms": latency(load.stream_first_ms),
        "stream_ms": latency(load.stream_ms),
        "server_rss_mb": {"start": memory[0], "max": max(memory), "end": memory[-1]}
        if memory
        else {},
    }


def bench(settings, clients: int, seconds: float, url: str | None = None) -> dict:
    """The load run (on a `rag serve` started for it unless ``url``), then a cold `rag ask`
    process on the same index and question, for the per-request comparison."""
    from .perf import cold_ask

    keys = ",".join(key_of(n) for n in range(clients))
    with contextlib.ExitStack() as stack:
        if url is None:
            env = {"RAG_API_KEYS": keys}
            url, pid = stack.enter_context(
                serve(settings.index_dir, command="serve", ready="/healthz", env=env)
            )
        else:
            pid = None
        result = run(url, clients, seconds, pid)
    cold = cold_ask(settings, QUESTIONS[0], runs=1)
    result["cold_rag_ask_s"] = cold["seconds"]
    p50 = result["plain_ms"].get("p50_ms")
    result["cold_vs_served_p50"] = round(cold["seconds"] * 1000 / p50, 1) if p50 else None
    return result


def format_result(r: dict) -> str:
    return (
        f"{r['clients']} API clients for {r['seconds']:.0f} s: {r['answered']} answered "
        f"({r['requests_per_s']}/s), {r['failed']} failed; plain {spread(r['plain_ms'])}; "
        f"streams: first token {spread(r['stream_first_token_ms'])}, whole "
        f"{spread(r['stream_ms'])}"
        + memory_text(r["server_rss_mb"])
        + f"; a cold `rag ask` process in the same run: {r.get('cold_rag_ask_s')} s "
        f"({r.get('cold_vs_served_p50')}× a served answer's p50)"
    )
