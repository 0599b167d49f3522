"""A scripted OpenAI-compatible endpoint, for protocol faults a real server will not produce
on demand: a reply that never comes, a stream cut in the middle, a malformed chunk, an error.

Real answers come from the real llama.cpp server in ``test_llm.py``; this one only plays
back a script. It records each request (headers included) so tests can check what was sent.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedEndpoint:
    """``mode``: 'ok' (stream ``reply``), 'slow', 'drop', 'malformed' or 'error'. ``reply`` is
    a string or a function of the request's prompt text; ``pace``: seconds between streamed
    words (a stream slow enough to watch). ``relay``: a real endpoint's URL whose reply to the
    same request is played back instead, a function of the prompt choosing when (its raw text
    is kept in ``relayed``)."""

    def __init__(  # noqa: PLR0913
        self, reply="", mode="ok", delay=5.0, pace=0.0, relay: str = "", relay_when=None
    ):
        self.reply, self.mode, self.delay, self.pace = reply, mode, delay, pace
        self.relay, self.relay_when = relay, relay_when or (lambda prompt: True)
        self.requests: list[dict] = []
        self.relayed: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(
                    self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"
                )
                endpoint.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                try:
                    endpoint.respond(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): expected in the 'slow' script

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _relayed(self, body: dict) -> str:
        """The real endpoint's whole reply to the same request, kept in ``relayed``."""
        request = urllib.request.Request(
            self.relay + "/chat/completions",
            data=json.dumps({**body, "stream": False}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=300) as r:
            text = json.load(r)["choices"][0]["message"]["content"]
        self.relayed.append(text)
        return text

    @staticmethod
    def _chunk(content: str | None, finish: str | None = None) -> bytes:
        delta = {"content": content} if content is not None else {}
        data = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "scripted",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

    @staticmethod
    def _send_json(h: BaseHTTPRequestHandler, status: int, data: dict) -> None:
        payload = json.dumps(data, ensure_ascii=False).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def respond(self, h: BaseHTTPRequestHandler, body: dict) -> None:
        if self.mode == "error":
            return self._send_json(
                h, 500, {"error": {"message": "model overloaded", "type": "server_error"}}
            )
        if self.mode == "slow":
            time.sleep(self.delay)
        prompt = "\n".join(
            m.get("content", "")
            for m in body.get("messages", [])
            if isinstance(m.get("content"), str)
        )
        if self.relay and self.relay_when(prompt):
            reply = self._relayed(body)
        else:
            reply = self.reply(prompt) if callable(self.reply) else self.reply
        words = reply.split(" ")
        if not body.get("stream"):
            return self._send_json(
                h,
                200,
                {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "scripted",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply},
                            "finish_reason": "stop",
                        }
                    ],
                },
            )
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        for i, word in enumerate(words):
            if self.mode == "drop" and i == len(words) // 2:
                h.wfile.flush()
                h.connection.shutdown(2)  # the connection dies mid-answer
                return
            if self.mode == "malformed" and i == 1:
                h.wfile.write(b'data: {"choices": [{"delta": {"content": \n\n')
            h.wfile.write(self._chunk(word + (" " if i < len(words) - 1 else "")))
            h.wfile.flush()
            time.sleep(self.pace)
        h.wfile.write(self._chunk(None, "stop"))
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()
        h.close_connection = True
