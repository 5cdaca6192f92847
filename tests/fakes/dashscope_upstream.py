"""A fake DashScope (Qwen) compatible mode: `POST /compatible-mode/v1/chat/completions`.

Checks as DashScope does: a bearer key (401 `invalid_api_key`), and the commercial Qwen3
rule that a non-stream call must not enable thinking (400 otherwise). Thinking answers carry
`reasoning_content`; usage reports cached prompt tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.compatible import (
    check_chat_body,
    chunks,
    completion,
    json_response,
    planned,
    write_stream,
)
from tests.fakes.vendor import BadRequest, FakeVendor

API_KEY = "sk-dashscope-fake-0123"


def error(status: int, message: str, code: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                      "code": code}, "request_id": "3b5a9c2e-fake"}  # fmt: skip
    return json_response(body, status)


@dataclass
class FakeDashScope(FakeVendor):
    @property
    def url(self) -> str:
        return self.origin

    def routes(self) -> list[tuple[str, Callable[[web.Request], Any]]]:
        return [("/compatible-mode/v1/chat/completions", self._chat)]

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return error(401, "Incorrect API key provided. ", "invalid_api_key")
        body = orjson.loads(await request.read())
        self.record(request, body)
        try:
            check_chat_body(body)
        except BadRequest as exc:
            return error(400, str(exc), "invalid_parameter_error")
        thinking = body.get("enable_thinking") is True
        if thinking and not body.get("stream"):
            message = "parameter.enable_thinking must be set to false for non-streaming calls"
            return error(400, message, "invalid_parameter_error")
        if self.fail_with is not None:
            code = "Throttling.RateQuota" if self.fail_with == 429 else "InternalError"
            return error(self.fail_with, f"fake failure {self.fail_with}", code)
        call = planned(body)
        if not body.get("stream"):
            return json_response(completion(body, call))
        return await write_stream(request, chunks(body, call, reasoning=thinking))
