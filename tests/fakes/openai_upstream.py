"""A fake OpenAI-compatible upstream: a real aiohttp server on loopback, OpenAI's wire format.

It checks what OpenAI would (bearer key, JSON body with model and messages), records every
request it saw, and answers as OpenAI does: a chat.completion, or chat.completion.chunk SSE
events ending in `data: [DONE]`, with a usage chunk when `stream_options.include_usage`.
Behaviour per test: `fail_with` (status to answer), `chunks`, `delay_s`, `interval_s`,
`cut_after`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.loopback import LoopbackServer

API_KEY = "sk-upstream-secret-0123456789"


@dataclass
class FakeOpenAI(LoopbackServer):
    base_path: ClassVar[str] = "/v1"

    fail_with: int | None = None
    retry_after: str | None = None
    chunks: int = 5
    delay_s: float = 0.0
    interval_s: float = 0.0
    cut_after: int | None = None  # close the stream after this many chunks, without [DONE]
    error_after: int | None = None  # after this many chunks an error event, then [DONE] (vLLM)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    server: TestServer | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        body = orjson.loads(await request.read())
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
            return _error(400, "model and messages are required", "invalid_request")
        if self.fail_with is not None:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return _error(self.fail_with, f"fake failure {self.fail_with}", "fake", headers)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if body.get("stream"):
            return await self._stream(request, body)
        return web.Response(
            body=orjson.dumps(_completion(body, self.chunks)), content_type="application/json"
        )

    async def _stream(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        created = int(time.time())
        for i in range(self.chunks):
            if self.cut_after is not None and i >= self.cut_after:
                return response
            if self.error_after is not None and i >= self.error_after:
                error = {"message": "The model crashed.", "type": "internal_error", "code": 500}
                await response.write(_event({"error": error}) + b"data: [DONE]\n\n")
                return response
            delta: dict[str, Any] = {"content": f"tok{i} "}
            if i == 0:
                delta["role"] = "assistant"
            await response.write(_event(_chunk(body, created, delta, None)))
            if self.interval_s:
                await asyncio.sleep(self.interval_s)
        await response.write(_event(_chunk(body, created, {}, "stop")))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = _chunk(body, created, {}, None)
            usage["choices"] = []
            usage["usage"] = _usage(body, self.chunks)
            await response.write(_event(usage))
        await response.write(b"data: [DONE]\n\n")
        return response


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _chunk(
    body: dict[str, Any], created: int, delta: dict[str, Any], finish: str | None
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": created,
        "model": body["model"],
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _usage(body: dict[str, Any], completion: int) -> dict[str, int]:
    prompt = 7 * len(body["messages"])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(body: dict[str, Any], tokens: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "fake answer"},
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(body, tokens),
    }


def _error(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "code": code, "param": None}
    }
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )
