"""A small OpenAI-compatible HTTP server on 127.0.0.1 that replays scripted answers.

This is the only fake in the test suite, and it sits exactly where real models plug in: litellm
talks to it over real HTTP, as it would to ``vllm serve``, llama.cpp's server or Ollama.

A test gives a *handler*: ``handler(path, body) -> (status, json_body)`` or a :class:`Reply`;
helpers below build chat and text completion bodies (with ``n`` choices, logprobs, usage).
Every request is recorded in ``server.requests`` as ``(path, body)``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering


Handler = Callable[[str, dict[str, Any]], Reply | tuple[int, Any]]


class FakeServer:
    def __init__(self, handler: Handler):
        self.handler = handler
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        outer = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(
                        Reply(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
                    )
                else:
                    self._send(Reply(404, {"error": {"message": "not found"}}))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer.lock:
                    outer.requests.append((self.path, body))
                reply = outer.handler(self.path, body)
                if isinstance(reply, tuple):
                    reply = Reply(*reply)
                if reply.delay:
                    time.sleep(reply.delay)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def usage(prompt_tokens: int = 10, completion_tokens: int = 10) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_completion(
    contents: list[str],
    logprobs: list[list[dict[str, Any]]] | None = None,
    finish_reason: str = "stop",
    model: str = "fake",
) -> dict[str, Any]:
    """A /chat/completions body with one choice per content.

    ``logprobs[i]`` is the list of token entries for choice i, each
    ``{"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}``.
    """
    choices = []
    for i, content in enumerate(contents):
        choice: dict[str, Any] = {
            "index": i,
            "message": {"role": "assistant", "content": content},
            "finish_reason": finish_reason,
        }
        if logprobs is not None:
            choice["logprobs"] = {"content": logprobs[i]}
        choices.append(choice)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": choices,
        "usage": usage(completion_tokens=sum(len(c.split()) for c in contents) or 1),
    }


def text_completion(
    texts: list[str],
    token_logprobs: list[list[float]] | None = None,
    finish_reason: str = "stop",
    model: str = "fake",
) -> dict[str, Any]:
    """A /completions body with one choice per text (OpenAI's legacy logprobs shape)."""
    choices = []
    for i, text in enumerate(texts):
        choice: dict[str, Any] = {"index": i, "text": text, "finish_reason": finish_reason}
        if token_logprobs is not None:
            lps = token_logprobs[i]
            choice["logprobs"] = {
                "tokens": [f"t{j}" for j in range(len(lps))],
                "token_logprobs": lps,
                "top_logprobs": None,
                "text_offset": list(range(len(lps))),
            }
        choices.append(choice)
    return {
        "id": "cmpl-fake",
        "object": "text_completion",
        "created": 0,
        "model": model,
        "choices": choices,
        "usage": usage(completion_tokens=sum(len(t.split()) for t in texts) or 1),
    }


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An OpenAI-style error reply (429 for rate limits, 5xx for a server that is down)."""
    kind = "rate_limit_error" if status == 429 else "server_error"
    return Reply(
        status, {"error": {"message": message, "type": kind, "code": status}}, headers or {}
    )


def scripted(replies: Sequence[Reply | tuple[int, Any]]) -> Handler:
    """A handler answering the given replies in order (the last one repeats)."""
    queue: Iterator[Reply | tuple[int, Any]] = iter(replies)
    last: list[Reply | tuple[int, Any]] = [replies[-1]]

    def handler(path: str, body: dict[str, Any]) -> Reply | tuple[int, Any]:
        with contextlib.suppress(StopIteration):
            last[0] = next(queue)
        return last[0]

    return handler
