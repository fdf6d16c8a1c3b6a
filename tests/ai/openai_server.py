"""A real HTTP server speaking OpenAI's chat completions protocol, for testing the real SDK client.

`POST /v1/chat/completions`, plain and streamed (server-sent events: `data: {chunk}` lines,
then `data: [DONE]`), with the Bearer key checked. Every request is recorded (headers and
JSON body) so tests assert what the client really sent. `script` holds one step per coming
request: `{"content": "..."}` answers that text; `{"status": 429, "headers": {...}}` fails;
`{"sleep": 1.0}` waits first; `{"pace": 0.02}` waits that long between streamed pieces (a model
writing at a human-visible speed); `{"cut": True}` ends a stream half-way with no finish reason;
`{"abort": True}` breaks the connection half-way. With no step, the answer echoes the last
user text and says how many images came.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class ChatServer:
    def __init__(self, api_key: str = "sk-test", models: tuple[str, ...] = ("text-model", "vision-model")) -> None:
        self.api_key = api_key
        self.models = models
        self.requests: list[dict[str, Any]] = []
        self.script: list[dict[str, Any]] = []
        self.refused_formats: set[str] = set()  # response_format types answered 400, as some servers do
        self.url = ""
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.completions, methods=["POST"])])

    def reset(self) -> None:
        self.requests.clear()
        self.script.clear()
        self.refused_formats.clear()

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]["body"]

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"headers": dict(request.headers), "body": body})
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        step = self.script.pop(0) if self.script else {}
        if step.get("sleep"):
            await asyncio.sleep(step["sleep"])
        if "status" in step:
            return _error(step["status"], step.get("message", "scripted failure"), None, step.get("headers"))
        if (body.get("response_format") or {}).get("type") in self.refused_formats:
            return _error(400, f"response_format type {body['response_format']['type']} is not supported", None)
        if body.get("model") not in self.models:
            return _error(404, f"The model `{body.get('model')}` does not exist", "model_not_found")
        content = step["content"] if "content" in step else _echo(body)
        if body.get("stream"):
            return StreamingResponse(self._chunks(body["model"], content, step), media_type="text/event-stream")
        return JSONResponse({
            "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        })

    async def _chunks(self, model: str, content: str, step: dict[str, Any]) -> AsyncIterator[bytes]:
        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(chunk)}\n\n".encode()

        pieces = [content[i:i + 4] for i in range(0, len(content), 4)]
        yield event({"role": "assistant", "content": ""})
        for n, piece in enumerate(pieces):
            if n == len(pieces) // 2 and step.get("cut"):
                return  # the server ends the body: no finish reason, no [DONE]
            if n == len(pieces) // 2 and step.get("abort"):
                raise ConnectionError("scripted break")  # uvicorn drops the connection mid-body
            yield event({"content": piece})
            await asyncio.sleep(step.get("pace", 0))
        yield event({}, "stop")
        yield b"data: [DONE]\n\n"


def _echo(body: dict[str, Any]) -> str:
    users = [m for m in body["messages"] if m["role"] == "user"]
    content = users[-1]["content"] if users else ""
    if isinstance(content, list):
        texts = [p["text"] for p in content if p["type"] == "text"]
        images = sum(p["type"] == "image_url" for p in content)
        return f"echo: {' '.join(texts)} [images={images}]"
    return f"echo: {content}"


def _error(status: int, message: str, code: str | None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}},
                        status_code=status, headers=headers)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(server: ChatServer) -> Iterator[ChatServer]:
    """The server on a free port in a thread, until the block ends."""
    port = free_port()
    config = uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test chat server did not start")
        time.sleep(0.01)
    server.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield server
    finally:
        running.should_exit = True
        thread.join(timeout=10)
