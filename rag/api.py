"""HTTP API (`rag serve`): the product as an OpenAI-compatible "model" that answers from the
news archive with citations, plus search, ingest, health and metrics endpoints.

    POST /v1/chat/completions   OpenAI chat format, streaming (SSE) or not; citations beside
    GET  /v1/models             rag-extractive, and rag-<llm> when an LLM is configured
    POST /v1/search             `rag search --json` as an endpoint
    POST /v1/ingest             files or URLs into the index (admin key); GET /v1/ingest/{id}
    GET  /healthz, /metrics     liveness; Prometheus text

One process keeps the model, Kiwi and the index loaded. It is not the web chat's process:
Chainlit runs its own server and event loop, and apart each can be restarted or scaled alone.
Keys come from ``RAG_API_KEYS`` (read) and ``RAG_API_ADMIN_KEYS`` (read and ingest), comma-
separated; only their sha256 is kept. Without keys the server answers anyone, so `rag serve`
then refuses any address but localhost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import asdict, replace

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from .errors import BadInput, IndexBusy, RagError
from .retrieve import Filters, check_query
from .settings import Settings

MAX_BODY = 256 * 1024  # bytes of one request
MAX_CONCURRENT = 8  # answers computed at once; more wait their turn in a queue
MAX_WAITING = 256  # requests waiting for a turn; beyond that (or after PATIENCE s), 503
PATIENCE = 60.0
RATE_PER_MINUTE = 600  # requests per key (or per client address without keys)
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
EXTRACTIVE = "rag-extractive"


def _hashed(raw: str) -> set[str]:
    return {hashlib.sha256(k.strip().encode()).hexdigest() for k in raw.split(",") if k.strip()}


class Keys:
    """The API keys, kept as sha256 only: read keys and admin keys (admin can also ingest)."""

    def __init__(self, read: str = "", admin: str = ""):
        self.admin = _hashed(admin)
        self.read = _hashed(read) | self.admin

    @classmethod
    def from_env(cls) -> Keys:
        return cls(os.environ.get("RAG_API_KEYS", ""), os.environ.get("RAG_API_ADMIN_KEYS", ""))

    def __bool__(self) -> bool:
        return bool(self.read)

    def role(self, authorization: str) -> str:
        """'admin', 'read' or '' (no or a wrong key) for an ``Authorization: Bearer`` header."""
        token = authorization.removeprefix("Bearer ").strip()
        digest = hashlib.sha256(token.encode()).hexdigest()
        return "admin" if digest in self.admin else "read" if digest in self.read else ""


class Metrics:
    """Request counts and latency histograms per path, in Prometheus' text format."""

    def __init__(self):
        self.lock = threading.Lock()
        self.count: Counter = Counter()
        self.buckets: dict = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.total: Counter = Counter()

    def observe(self, path: str, status: int, seconds: float) -> None:
        with self.lock:
            self.count[(path, status)] += 1
            slot = next((i for i, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))
            self.buckets[path][slot] += 1
            self.total[path] += seconds

    def text(self, gauges: dict[str, float]) -> str:
        lines = ["# TYPE rag_requests_total counter"]
        with self.lock:
            for (path, status), n in sorted(self.count.items()):
                lines.append(f'rag_requests_total{{path="{path}",status="{status}"}} {n}')
            lines.append("# TYPE rag_request_seconds histogram")
            for path, counts in sorted(self.buckets.items()):
                running = 0
                for bound, n in zip([*map(str, BUCKETS), "+Inf"], counts):
                    running += n
                    lines.append(
                        f'rag_request_seconds_bucket{{path="{path}",le="{bound}"}} {running}'
                    )
                lines.append(f'rag_request_seconds_sum{{path="{path}"}} {self.total[path]:.6f}')
                lines.append(f'rag_request_seconds_count{{path="{path}"}} {running}')
        for name, value in gauges.items():
            lines += [f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(lines) + "\n"


class Admission:
    """At most ``running`` answers computed at once (two cores gain nothing from more); up to
    ``waiting`` further requests wait their turn, each at most ``patience`` seconds. A request
    beyond that gets 503, so a burst is served late rather than refused or piled up."""

    def __init__(self, running=MAX_CONCURRENT, waiting=MAX_WAITING, patience=PATIENCE):
        self.slots = asyncio.Semaphore(running)
        self.waiting, self.max_waiting, self.patience = 0, waiting, patience

    async def enter(self) -> bool:
        """Whether the request got a turn (then ``release`` it when done)."""
        if self.waiting >= self.max_waiting:
            return False
        self.waiting += 1
        try:
            await asyncio.wait_for(self.slots.acquire(), self.patience)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            self.waiting -= 1

    def release(self) -> None:
        self.slots.release()


class Limiter:
    """At most ``per_minute`` requests per key in any minute (a sliding window)."""

    def __init__(self, per_minute: int = RATE_PER_MINUTE):
        self.per_minute, self.seen, self.lock = per_minute, defaultdict(deque), threading.Lock()

    def wait_for(self, who: str) -> float:
        """0 when ``who`` may go now, else the seconds until it may."""
        now = time.monotonic()
        with self.lock:
            seen = self.seen[who]
            while seen and now - seen[0] > 60:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return 60 - (now - seen[0])
            seen.append(now)
            return 0.0


class Jobs:
    """Ingest jobs, one at a time (the index has one writer), run in a background thread."""

    def __init__(self, settings: Settings):
        self.settings, self.jobs, self.lock = settings, {}, threading.Lock()

    def start(self, sources: list) -> str:
        with self.lock:
            if any(j["state"] == "running" for j in self.jobs.values()):
                raise IndexBusy(
                    "an ingest is already running", "poll GET /v1/ingest/{id}, then retry"
                )
            job = uuid.uuid4().hex[:12]
            self.jobs[job] = {
                "id": job,
                "state": "running",
                "sources": sources,
                "started": time.time(),
            }
        threading.Thread(target=self._run, args=(job, sources), daemon=True).start()
        return job

    def _run(self, job: str, sources: list) -> None:
        from .indexing import ingest

        try:
            report = ingest(sources, self.settings, quiet=True)
            result = {"state": "done", "summary": report.summary(), "added": report.added}
            result |= {"changed": report.changed, "skipped": report.skipped}
        except RagError as e:
            result = {"state": "failed", "error": e.message, "hint": e.hint}
        except Exception as e:  # noqa: BLE001 - the job reports it; the server keeps serving
            result = {"state": "failed", "error": f"{type(e).__name__}: {e}"}
        with self.lock:
            self.jobs[job] |= result | {"finished": time.time()}

    def get(self, job: str) -> dict | None:
        with self.lock:
            return dict(self.jobs[job]) if job in self.jobs else None

    def running(self) -> int:
        with self.lock:
            return sum(j["state"] == "running" for j in self.jobs.values())


def _error(status: int, message: str, hint: str = "", kind: str = "invalid_request_error"):
    body = {"error": {"message": message, "type": kind, "hint": hint}}
    return JSONResponse(body, status_code=status)


def models(settings: Settings) -> list[str]:
    """What /v1/models offers: the extractive reader, and the configured LLM backend
    (``backend`` openai or ollama) if there is one; either checked by the citation checker."""
    names = [EXTRACTIVE]
    if settings.backend != "extractive":
        names.append(f"rag-{settings.backend}")
    return names


def _question_and_history(messages) -> tuple[str, list[tuple[str, str]]]:
    """The last user message, and the (question, answer) pairs before it."""
    if not isinstance(messages, list) or not messages:
        raise BadInput("messages must be a non-empty list", 'send [{"role": "user", ...}]')
    turns = [(m.get("role"), m.get("content")) for m in messages if isinstance(m, dict)]
    if not turns or turns[-1][0] != "user" or not isinstance(turns[-1][1], str):
        raise BadInput("the last message must be the user's, with text content", "")
    history, question = [], None
    for role, content in turns[:-1]:
        if role == "user":
            question = content
        elif role == "assistant" and question:
            history.append((question, content or ""))
            question = None
    return turns[-1][1], history


def _content(answer) -> str:
    """The answer with its [n] markers, and a sources list plain clients can show."""
    if not answer.citations:
        return answer.answer
    sources = "\n".join(
        f"[{c.n}] {c.title} · {c.outlet or '?'} · {c.published or '?'} ({c.source})"
        for c in answer.citations
    )
    heading = "출처" if answer.language == "ko" else "Sources"
    return f"{answer.answer}\n\n{heading}:\n{sources}"


def _extra(answer) -> dict:
    from .answering.answer import answer_json

    full = answer_json(answer)
    return {k: full[k] for k in ("citations", "abstained", "evidence_score", "notes")}


def create_app(settings: Settings, keys: Keys | None = None):
    """The FastAPI application serving ``settings``' index."""
    keys = keys if keys is not None else Keys.from_env()
    app = FastAPI(title="rag-news API", docs_url=None, redoc_url=None)
    metrics, limiter, jobs = Metrics(), Limiter(), Jobs(settings)
    answering = Admission()

    @app.middleware("http")
    async def guard(request: Request, call_next):
        started = time.perf_counter()
        path = request.url.path
        response = _refusal(request, keys, limiter)
        if response is None:
            request.state.role = keys.role(request.headers.get("authorization", "")) or "open"
            response = await call_next(request)
        known = path if path.startswith(("/v1/", "/healthz", "/metrics")) else "other"
        known = "/v1/ingest/{id}" if path.startswith("/v1/ingest/") else known
        metrics.observe(known, response.status_code, time.perf_counter() - started)
        return response

    @app.exception_handler(RagError)
    async def rag_error(request, e: RagError):
        status = 409 if isinstance(e, IndexBusy) else 400
        return _error(status, e.message, e.hint)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "chunks": _chunks(settings), "ingest_running": jobs.running()}

    @app.get("/metrics")
    def metrics_text():
        gauges = {"rag_index_chunks": _chunks(settings), "rag_ingest_running": jobs.running()}
        return PlainTextResponse(metrics.text(gauges), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    def list_models():
        data = [{"id": m, "object": "model", "owned_by": "rag-news"} for m in models(settings)]
        return {"object": "list", "data": data}

    _chat_route(app, settings, answering)
    _data_routes(app, settings, jobs)
    return app


def _chat_route(app, settings: Settings, answering: Admission) -> None:
    """The OpenAI-compatible chat, answers admitted by ``answering``."""

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await _json(request)
        model = body.get("model") or EXTRACTIVE
        if model not in models(settings):
            return _error(404, f"unknown model {model!r}", f"use one of {models(settings)}")
        question, history = _question_and_history(body.get("messages"))
        if not await answering.enter():
            return _error(503, "too many answers waiting", "retry in a moment", "overloaded")
        settings_for_model = replace(settings, backend=model.removeprefix("rag-"))
        if body.get("stream"):
            try:  # a bad question gets its status before the stream starts
                check_query(question, settings, "question")
            except RagError:
                answering.release()
                raise
            sentences: asyncio.Queue = asyncio.Queue()
            work = _answer(question, history, settings_for_model, sentences)
            stream = _stream(work, sentences, model, answering.release)
            return StreamingResponse(stream, media_type="text/event-stream")
        try:
            answer = await _answer(question, history, settings_for_model)
        finally:
            answering.release()
        return _completion(answer, model)


def _data_routes(app, settings: Settings, jobs: Jobs) -> None:
    """Search and ingest."""

    @app.post("/v1/search")
    async def search_endpoint(request: Request):
        from starlette.concurrency import run_in_threadpool

        from .retrieve import search

        body = await _json(request)
        filters = Filters(
            tuple(body.get("sources") or ()),
            tuple(body.get("outlets") or ()),
            body.get("since") or "",
            body.get("until") or "",
        )
        k, mode = int(body.get("k") or settings.top_k), body.get("mode") or "hybrid"
        hits = await run_in_threadpool(
            search, str(body.get("query") or ""), settings, k, filters, mode
        )
        return {"query": body.get("query"), "passages": [asdict(p) for p in hits]}

    @app.post("/v1/ingest")
    async def ingest_endpoint(request: Request):
        if request.state.role != "admin":
            return _error(403, "ingest needs an admin key", "set RAG_API_ADMIN_KEYS", "auth_error")
        body = await _json(request)
        sources = [str(s) for s in (body.get("paths") or []) + (body.get("urls") or [])]
        if not sources:
            return _error(400, "nothing to ingest", 'send {"urls": [...]} or {"paths": [...]}')
        job = jobs.start(sources)
        return {"id": job, "state": "running", "poll": f"/v1/ingest/{job}"}

    @app.get("/v1/ingest/{job}")
    def ingest_status(job: str):
        found = jobs.get(job)
        return found or _error(404, f"no ingest job {job}", "use the id POST /v1/ingest gave")


def _refusal(request, keys: Keys, limiter: Limiter):
    """The error response for a request refused before it runs, else None."""
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_BODY:
        return _error(413, f"request body over {MAX_BODY // 1024} KB", "send a shorter question")
    if request.url.path == "/healthz":
        return None
    who = request.client.host if request.client else "?"
    if keys:
        auth = request.headers.get("authorization", "")
        if not keys.role(auth):
            hint = "send Authorization: Bearer <key> with a key from RAG_API_KEYS"
            return _error(401, "missing or unknown API key", hint, "auth_error")
        who = hashlib.sha256(auth.encode()).hexdigest()[:16]
    wait = limiter.wait_for(who)
    if wait:
        response = _error(429, "rate limit reached", f"retry in {wait:.0f} s", "rate_limit")
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    return None


async def _json(request) -> dict:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadInput(f"request body over {MAX_BODY // 1024} KB", "send a shorter question")
    try:
        body = json.loads(raw or b"{}")
    except ValueError as e:
        raise BadInput(f"the body is not JSON ({e})", "send a JSON object") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object", "")
    return body


def _answer(question: str, history, settings: Settings, sentences=None) -> asyncio.Future:
    """The answer, worked out in a thread; an LLM's checked sentences are put on ``sentences``
    as the checker passes them, then None when the answer is done."""
    from starlette.concurrency import run_in_threadpool

    from .answering import ask

    loop = asyncio.get_running_loop()
    on_sentence = None
    if sentences is not None:
        on_sentence = lambda s: loop.call_soon_threadsafe(sentences.put_nowait, s)  # noqa: E731
    work = asyncio.ensure_future(
        run_in_threadpool(ask, question, settings, history, None, on_sentence)
    )
    if sentences is not None:  # after every sentence put (the loop runs callbacks in order)
        work.add_done_callback(lambda _: sentences.put_nowait(None))
    return work


def _completion(answer, model: str) -> dict:
    message = {"role": "assistant", "content": _content(answer), **_extra(answer)}
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


async def _stream(work: asyncio.Future, sentences: asyncio.Queue, model: str, release):
    """SSE chunks: an LLM's sentences as the citation checker passes them (none is sent before),
    then the rest of the answer a sentence at a time, the sources, and the citations."""
    from .chunking import split_sentences

    base = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion.chunk"}
    base |= {"created": int(time.time()), "model": model}

    def chunk(delta: dict, finish=None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return f"data: {json.dumps(base | {'choices': [choice]}, ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        sent = ""
        while (sentence := await sentences.get()) is not None:  # None: the answer is done
            piece = (" " if sent else "") + sentence
            sent += piece
            yield chunk({"content": piece})
        text = _content(work.result())
        rest = text[len(sent) :] if text.startswith(sent) else "\n\n" + text
        cuts = [0] + [span.start for span in split_sentences(rest)[1:]] + [len(rest)]
        for start, end in zip(cuts, cuts[1:]):  # the text exactly, a sentence per chunk
            if end > start:
                yield chunk({"content": rest[start:end]})
        yield chunk(_extra(work.result()), finish="stop")
        yield "data: [DONE]\n\n"
    except RagError as e:  # the stream has begun: the error is its last chunk
        yield chunk({"content": f"\n\n⚠️ {e.message}" + (f" ({e.hint})" if e.hint else "")})
        yield chunk({}, finish="stop")
        yield "data: [DONE]\n\n"
    finally:
        release()


def _chunks(settings: Settings) -> int:
    from .indexing import open_index

    try:
        return open_index(settings).size()
    except RagError:
        return 0
