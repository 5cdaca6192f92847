"""A fake Volcengine Ark: `POST /api/v3/chat/completions`.

Checks as Ark does: a bearer key (401 `AuthenticationError`), and `thinking.type` among
enabled/disabled/auto. With thinking enabled the answer carries `reasoning_content` and the
usage counts `completion_tokens_details.reasoning_tokens` inside the completion tokens.
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
    usage,
    write_stream,
)
from tests.fakes.vendor import BadRequest, FakeVendor

API_KEY = "ark-fake-0123456789"


def error(status: int, message: str, code: str, kind: str) -> web.Response:
    body = {"error": {"code": code, "message": message, "param": "", "type": kind}}
    return json_response(body, status)


@dataclass
class FakeVolcengine(FakeVendor):
    @property
    def url(self) -> str:
        return self.origin

    def routes(self) -> list[tuple[str, Callable[[web.Request], Any]]]:
        return [("/api/v3/chat/completions", self._chat)]

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            message = "The API key in the request is missing or invalid."
            return error(401, message, "AuthenticationError", "Unauthorized")
        body = orjson.loads(await request.read())
        self.record(request, body)
        thinking = (body.get("thinking") or {}).get("type", "enabled")
        try:
            check_chat_body(body)
            if thinking not in ("enabled", "disabled", "auto"):
                raise BadRequest(
                    "The parameter `thinking.type` specified in the request is not valid"
                )
        except BadRequest as exc:
            return error(400, str(exc), "InvalidParameter", "BadRequest")
        if self.fail_with is not None:
            code = (
                "RateLimitExceeded.EndpointRPMExceeded"
                if self.fail_with == 429
                else "InternalServiceError"
            )
            return error(self.fail_with, f"fake failure {self.fail_with}", code, "TooManyRequests")
        call = planned(body)
        reasoning = thinking == "enabled" and call is None
        details = {"completion_tokens_details": {"reasoning_tokens": 4 if reasoning else 0}}
        if not body.get("stream"):
            answer = completion(body, call, reasoning=reasoning, usage_object=usage(details))
            return json_response(answer)
        events = chunks(body, call, reasoning=reasoning, usage_object=usage(details))
        return await write_stream(request, events)
