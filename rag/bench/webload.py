"""Load on the web chat at the socket level: many concurrent chats, each asking in a loop.

    rag bench web [--url URL] [--chats 50] [--seconds 180] [--rounds 3] [--out FILE]

Each chat is one Socket.IO connection speaking Chainlit's own protocol (the events the
browser sends and receives), so 50 chats cost 50 sockets, not 50 browser pages. For every
question it records the time to the first streamed token and to the complete answer;
an answer that is an error message, a timeout or a dropped connection counts as failed.
Without ``--url`` a `rag web` server is started on the given index and stopped after;
its memory (RSS) is sampled during the run. A chat holds memory while it lasts (its messages),
so growth during one round is no proof of a leak: with ``--rounds`` the chats run again after
the server has let the last round's go, and a leak shows as growth from round to round.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..eval.metrics import latency
from .servers import free_port

CONNECT_ATTEMPTS = 3
ANSWER_TIMEOUT = 120.0  # seconds a chat waits for an answer before counting it failed
ROUND_SESSION_SECONDS = 10  # the bench server's web_session_seconds when it runs rounds

QUESTIONS = [
    "한미는 한국 국방비를 GDP 대비 몇 퍼센트로 확대하는 데 공감했나?",
    "미래연합군사령부 완전운용능력 검증은 언제까지 추진하나?",
    "한·미 기술 번영 양해각서는 언제 체결됐나?",
    "한미 공급망·산업 대화 양해각서에 서명한 한국 장관은 누구인가?",
    "비즈니스 라운드테이블에는 몇 개 기업이 참가했나?",
    "What share of GDP will Korea's defense budget rise to?",
    "서울 아파트 평균 가격은 얼마인가?",
    "신설이 논의된 국방과학기술협력위원회의 약칭은?",
]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


@dataclass
class Load:
    """What every chat of one run shares: where to connect, what to ask, how long to wait for
    an answer, and the answers and failures collected."""

    url: str
    questions: list[str]
    timeout: float
    results: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cookie: str | None = None  # the sign-in cookie, once asked for ('' when none is needed)
    connect_retries: int = 0


async def _signed_in(load: Load) -> str:
    """The cookie a chat connects with: a server that keeps history signs its one local user
    in through ``/auth/header``, as the browser does; '' for a server without sign-in."""
    if load.cookie is None:
        import httpx

        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.post(load.url + "/auth/header")
        load.cookie = "; ".join(f"{k}={v}" for k, v in r.cookies.items()) if r.is_success else ""
    return load.cookie


def _user_message(question: str) -> dict:
    """The event the browser sends when a person asks ``question``."""
    message = {
        "id": str(uuid.uuid4()),
        "name": "User",
        "type": "user_message",
        "output": question,
        "createdAt": datetime.now(timezone.utc).isoformat(),
    }
    return {"message": message, "fileReferences": []}


async def _connected(load: Load):
    """A Socket.IO client connected as a browser tab, with its answer state; None on failure."""
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    state: dict = {}

    @client.on("stream_start")  # carries the first token; later ones come as stream_token
    async def _first_token(step):
        if "first_token" not in state and step.get("type") == "assistant_message":
            state["first_token"] = time.perf_counter()

    @client.on("new_message")
    async def _message(step):
        if step.get("type") == "assistant_message" and "done" in state and not state["done"].done():
            state["done"].set_result(step.get("output") or "")

    auth = {
        "sessionId": str(uuid.uuid4()),
        "clientType": "webapp",
        "userEnv": "{}",
        "threadId": None,
    }
    for attempt in range(CONNECT_ATTEMPTS):  # a browser's socket retries a failed connect too
        try:
            cookie = await _signed_in(load)
            await client.connect(
                load.url,
                headers={"Cookie": cookie} if cookie else {},
                socketio_path="/ws/socket.io",
                transports=["websocket"],
                auth=auth,
                wait_timeout=30,
            )
            await client.emit("connection_successful")
            break
        except Exception as e:  # noqa: BLE001 - counted and reported, the run goes on
            if attempt == CONNECT_ATTEMPTS - 1:
                load.errors.append(f"connect: {type(e).__name__}: {e}")
                return None, state
            load.connect_retries += 1
            await asyncio.sleep(1 + attempt)
    return client, state


async def _ask(client, state: dict, question: str, load: Load) -> None:
    """One question, timed to its first streamed token and its whole answer."""
    state.clear()
    state["done"] = asyncio.get_running_loop().create_future()
    sent = time.perf_counter()
    await client.emit("client_message", _user_message(question))
    try:
        output = await asyncio.wait_for(state["done"], load.timeout)
    except asyncio.TimeoutError:
        load.errors.append(f"no answer within {load.timeout:.0f} s: {question}")
        return
    done = time.perf_counter()
    if output.startswith("⚠️"):
        load.errors.append(f"error reply to {question!r}: {output[:120]}")
        return
    first = state.get("first_token", done)
    load.results.append(
        {
            "question": question,
            "output": output,
            "first_token_ms": (first - sent) * 1000,
            "answer_ms": (done - sent) * 1000,
        }
    )


async def _chat(load: Load, deadline: float) -> None:
    """One user: connect, then ask questions one after another until ``deadline``."""
    client, state = await _connected(load)
    if client is None:
        return
    try:
        i = random.randrange(len(load.questions))
        while time.time() < deadline:
            await _ask(client, state, load.questions[i % len(load.questions)], load)
            i += 1
    finally:
        await client.disconnect()


async def _load(load: Load, chats: int, seconds: float, pid: int | None) -> dict:
    memory: list[float] = []
    _log("Warm-up question …")
    warm = Load(load.url, load.questions[:1], 300, errors=load.errors)
    await _chat(warm, time.time() + 1)
    load.cookie = warm.cookie
    deadline = time.time() + seconds
    tasks = [asyncio.create_task(_chat(load, deadline)) for _ in range(chats)]
    started = time.time()
    while not all(t.done() for t in tasks):
        if pid:
            memory.append(round(rss_mb(pid), 1))
        rss = f", server RSS {memory[-1]:.0f} MB" if memory else ""
        _log(
            f"  {time.time() - started:5.0f} s: {len(load.results)} answered, {len(load.errors)} "
            f"failed{rss}"
        )
        await asyncio.wait(tasks, timeout=10)
    return {"memory": memory, "seconds": time.time() - started}


def run(
    url: str,
    chats: int,
    seconds: float,
    pid: int | None = None,
    questions: list[str] = QUESTIONS,
    rounds: int = 1,
) -> dict:
    """``chats`` concurrent chats for ``seconds``: answered/failed counts, latency, server
    memory. With ``rounds`` > 1 the chats run that many times; after each round, once the server
    has let its chats go (``ROUND_SESSION_SECONDS`` after they end), its memory is sampled:
    memory a chat holds comes back for the next round's chats, a leak grows round on round."""
    load = Load(url, questions, ANSWER_TIMEOUT)
    raw = asyncio.run(_load(load, chats, seconds, pid))
    after_rounds = []  # sampled only on a server this bench started (its pid known)
    for n in range(2, rounds + 1):
        if pid:
            after_rounds.append(_after_chats_let_go(pid))
        _log(f"Round {n} of {rounds} …")
        more = asyncio.run(_load(load, chats, seconds, pid))
        raw = {
            "memory": raw["memory"] + more["memory"],
            "seconds": raw["seconds"] + more["seconds"],
        }
    if rounds > 1 and pid:
        after_rounds.append(_after_chats_let_go(pid))
    first = [r["first_token_ms"] for r in load.results]
    whole = [r["answer_ms"] for r in load.results]
    memory = raw["memory"]
    return {
        "chats": chats,
        "seconds": round(raw["seconds"], 1),
        "answered": len(whole),
        "failed": len(load.errors),
        "connect_retries": load.connect_retries,
        "errors": load.errors[:20],
        "sample_answers": {r["question"]: r["output"][:300] for r in load.results},
        # with an LLM: answers where no LLM sentence passed the checker (the extractive one shown)
        "llm_fallbacks": sum("showing the extractive answer" in r["output"] for r in load.results),
        "first_token_ms": latency(first),
        "answer_ms": latency(whole),
        "server_rss_mb": {"start": memory[0], "max": max(memory), "end": memory[-1]}
        if memory
        else {},
        "server_rss_mb_after_each_round": after_rounds,
    }


def _after_chats_let_go(pid: int) -> float:
    """The server's memory once the chats that just ended have been let go."""
    time.sleep(ROUND_SESSION_SECONDS + 5)
    return round(rss_mb(pid), 1)


@contextlib.contextmanager
def serve(
    index_dir: Path,
    log=lambda *a: print(*a, file=sys.stderr, flush=True),
    cwd: Path | None = None,
    env: dict | None = None,
    command: str = "web",
    ready: str = "/",
):
    """A `rag web` (or `rag serve`, with ``command``) server on a free local port for the
    duration (``env`` added to this process's environment; its log in ``cwd``/server.log);
    yields (url, pid) once ``ready`` answers."""
    import tempfile

    port = free_port()
    workdir = Path(cwd or tempfile.mkdtemp(prefix="rag-webload-"))
    server_log = open(workdir / "server.log", "w")
    root = str(Path(__file__).resolve().parents[2])  # this rag, even when not installed
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rag.cli",
            command,
            "--port",
            str(port),
            "--index",
            str(Path(index_dir).resolve()),
        ],
        cwd=workdir,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
            **(env or {}),
        },
    )
    url = f"http://127.0.0.1:{port}"
    try:
        log(f"Starting `rag {command}` on {url} …")
        for _ in range(240):
            try:
                urllib.request.urlopen(url + ready, timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    log_tail = (workdir / "server.log").read_text()[-2000:]
                    raise RuntimeError(f"the web server exited: {log_tail}") from None
                time.sleep(0.5)
        else:
            raise RuntimeError(f"`rag {command}` did not answer within 2 minutes")
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        server_log.close()


def spread(figures: dict) -> str:
    """'p50 X / p95 Y ms' of a latency summary."""
    return f"p50 {figures.get('p50_ms')} / p95 {figures.get('p95_ms')} ms"


def memory_text(mem: dict) -> str:
    """The server's memory over a run, or '' when it was not sampled."""
    return (
        f"; server RSS {mem['start']:.0f} → max {mem['max']:.0f} → end {mem['end']:.0f} MB"
        if mem
        else ""
    )


def format_result(r: dict) -> str:
    return (
        f"{r['chats']} concurrent chats for {r['seconds']:.0f} s: {r['answered']} answered, "
        f"{r['failed']} failed ({r.get('connect_retries', 0)} connects retried); "
        f"first token {spread(r['first_token_ms'])}; whole answer {spread(r['answer_ms'])}"
        + (f"; {r['llm_fallbacks']} LLM answers fell back" if r.get("llm_fallbacks") else "")
        + memory_text(r["server_rss_mb"])
        + (
            "; server RSS once each round's chats were let go: "
            + " → ".join(f"{m:.0f}" for m in r["server_rss_mb_after_each_round"])
            + " MB"
            if r.get("server_rss_mb_after_each_round")
            else ""
        )
    )
