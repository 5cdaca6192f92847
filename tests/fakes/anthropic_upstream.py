"""A fake Anthropic Messages API: `POST /v1/messages`, checked and answered as Anthropic does.

Checks: `x-api-key` (401 `authentication_error` otherwise), `anthropic-version`, and the body
field by field — known top-level fields only, `max_tokens` required, roles alternating from
`user`, non-empty text blocks, image sources, `tool_result` blocks answering an earlier
`tool_use`, tools with an object `input_schema`, `tool_choice` types. Streams are written as
Anthropic's event sequence (`message_start`, `content_block_*`, `ping`, `message_delta`,
`message_stop`), with `thinking` and `input_json_delta` blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.vendor import (
    CACHED_TOKENS,
    COMPLETION_TOKENS,
    PIECES,
    PROMPT_TOKENS,
    REASONING,
    BadRequest,
    Call,
    FakeVendor,
    planned_call,
)

API_KEY = "sk-ant-fake-0123456789"
TOP_LEVEL = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
    }
)
BLOCK_TYPES = frozenset({"text", "image", "document", "tool_use", "tool_result", "thinking"})
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class FakeAnthropic(FakeVendor):
    stream_error_after: int | None = None  # send an `error` event after this many deltas

    @property
    def url(self) -> str:
        return self.origin

    def routes(self) -> list[tuple[str, Callable[[web.Request], Any]]]:
        return [("/v1/messages", self._messages)]

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("x-api-key") != API_KEY:
            return error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return error(400, "anthropic-version: header is required")
        body = orjson.loads(await request.read())
        self.record(request, body)
        try:
            check_body(body)
        except BadRequest as exc:
            return error(400, str(exc))
        if self.fail_with is not None:
            headers = {"retry-after": self.retry_after} if self.retry_after else {}
            return error(self.fail_with, f"fake failure {self.fail_with}", headers)
        call = planned_call(_tools(body), _last_is_result(body))
        thinking = isinstance(body.get("thinking"), dict)
        if body.get("stream"):
            return await self._stream(request, body, call, thinking)
        return web.json_response(message(body, call, thinking), dumps=_dumps)

    async def _stream(
        self, request: web.Request, body: dict[str, Any], call: Call | None, thinking: bool
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for count, event in enumerate(stream_events(body, call, thinking)):
            if self.stream_error_after is not None and count == self.stream_error_after:
                overloaded = {"type": "overloaded_error", "message": "Overloaded"}
                await response.write(sse("error", {"type": "error", "error": overloaded}))
                return response
            await response.write(event)
        return response


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def error(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    kind = ERROR_TYPES.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": text}}
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def check_body(body: dict[str, Any]) -> None:
    extra = set(body) - TOP_LEVEL
    if extra:
        raise BadRequest(f"{sorted(extra)[0]}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise BadRequest("model: Field required")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        raise BadRequest("max_tokens: Field required")
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        for block in system:
            _check_block(block, set())
            if block["type"] != "text":
                raise BadRequest("system: only text blocks")
    _check_messages(body.get("messages"))
    _check_tools(body)


def _check_messages(messages: object) -> None:
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: at least one message is required")
    expected, uses = "user", set[str]()
    for position, turn in enumerate(messages):
        if turn.get("role") != expected:
            raise BadRequest(f"messages.{position}.role: roles must alternate, starting with user")
        expected = "assistant" if expected == "user" else "user"
        content = turn.get("content")
        if isinstance(content, str):
            if not content.strip():
                raise BadRequest(f"messages.{position}: text content must be non-whitespace")
            continue
        if not isinstance(content, list) or not content:
            raise BadRequest(f"messages.{position}.content: must be a non-empty list")
        for block in content:
            _check_block(block, uses)


def _check_block(block: object, uses: set[str]) -> None:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        raise BadRequest(f"unknown content block {block!r}")
    kind = block["type"]
    if kind == "text" and (not isinstance(block.get("text"), str) or not block["text"].strip()):
        raise BadRequest("text content blocks must contain non-whitespace text")
    if kind in ("image", "document"):
        source = block.get("source") or {}
        if source.get("type") == "base64":
            if not source.get("media_type") or not source.get("data"):
                raise BadRequest("source: media_type and data are required")
        elif source.get("type") != "url" or not str(source.get("url")).startswith("http"):
            raise BadRequest("source: base64 or url")
    if kind == "tool_use":
        if not block.get("id") or not block.get("name") or not isinstance(block.get("input"), dict):
            raise BadRequest("tool_use: id, name and input (an object) are required")
        uses.add(block["id"])
    if kind == "tool_result" and block.get("tool_use_id") not in uses:
        raise BadRequest("tool_result: tool_use_id does not match a tool_use block")


def _check_tools(body: dict[str, Any]) -> None:
    for tool in body.get("tools") or ():
        schema = tool.get("input_schema")
        if not tool.get("name") or not isinstance(schema, dict) or schema.get("type") != "object":
            raise BadRequest("tools: name and an object input_schema are required")
    choice = body.get("tool_choice")
    if choice is not None and choice.get("type") not in ("auto", "any", "tool", "none"):
        raise BadRequest("tool_choice.type: auto, any, tool or none")
    stop = body.get("stop_sequences")
    if stop is not None and not all(isinstance(s, str) for s in stop):
        raise BadRequest("stop_sequences: a list of strings")


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    if (body.get("tool_choice") or {}).get("type") == "none":
        return []
    return [{"name": t["name"], "schema": t["input_schema"]} for t in body.get("tools") or ()]


def _last_is_result(body: dict[str, Any]) -> bool:
    content = body["messages"][-1].get("content")
    return isinstance(content, list) and any(b.get("type") == "tool_result" for b in content)


def _usage(output: int) -> dict[str, int]:
    return {
        "input_tokens": PROMPT_TOKENS - CACHED_TOKENS,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": CACHED_TOKENS,
        "output_tokens": output,
    }


def message(body: dict[str, Any], call: Call | None, thinking: bool) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if thinking:
        content.append({"type": "thinking", "thinking": REASONING, "signature": "sig-fake"})
    if call is None:
        content.append({"type": "text", "text": "".join(PIECES)})
    else:
        content.append({"type": "tool_use", "id": "toolu_fake01", "name": call.name})
        content[-1]["input"] = call.arguments
    return {
        "id": "msg_fake01",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": "end_turn" if call is None else "tool_use",
        "stop_sequence": None,
        "usage": _usage(COMPLETION_TOKENS),
    }


def sse(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def stream_events(body: dict[str, Any], call: Call | None, thinking: bool) -> list[bytes]:
    start = message(body, call, thinking)
    events = [
        sse(
            "message_start",
            {
                "type": "message_start",
                "message": {**start, "content": [], "stop_reason": None, "usage": _usage(1)},
            },
        )
    ]
    index = 0
    if thinking:
        events += _block(
            index,
            {"type": "thinking", "thinking": "", "signature": ""},
            [
                {"type": "thinking_delta", "thinking": REASONING},
                {"type": "signature_delta", "signature": "sig-fake"},
            ],
        )
        index += 1
    events.append(sse("ping", {"type": "ping"}))
    if call is None:
        deltas = [{"type": "text_delta", "text": piece} for piece in PIECES]
        events += _block(index, {"type": "text", "text": ""}, deltas)
    else:
        arguments = orjson.dumps(call.arguments).decode()
        halves = [arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]]
        deltas = [{"type": "input_json_delta", "partial_json": half} for half in ["", *halves]]
        use = {"type": "tool_use", "id": "toolu_fake01", "name": call.name, "input": {}}
        events += _block(index, use, deltas)
    delta = {"stop_reason": start["stop_reason"], "stop_sequence": None}
    usage = {"output_tokens": COMPLETION_TOKENS}
    events.append(sse("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    return [*events, sse("message_stop", {"type": "message_stop"})]


def _block(index: int, block: dict[str, Any], deltas: list[dict[str, Any]]) -> list[bytes]:
    events = [
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )
    ]
    for delta in deltas:
        event = {"type": "content_block_delta", "index": index, "delta": delta}
        events.append(sse("content_block_delta", event))
    return [*events, sse("content_block_stop", {"type": "content_block_stop", "index": index})]
