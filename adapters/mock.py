"""The `mock` protocol for chat: an in-process OpenAI-compatible upstream, no network.

`MockAdapter` builds the same upstream body as `OpenAIAdapter` (so metering follows the
real path, `include_usage` and all) addressed to `mock:chat`, with the mock's behaviour in
`X-Bella-Mock-*` headers: the channel's options, overridden by the client's headers.
`serve_chat` answers such a request; its only waiting is `asyncio.sleep` (injectable).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from adapters.base import Channel, ChatResult, UpstreamRequest
from adapters.mock_chat import (
    ChatPlan,
    ChunkTemplate,
    completion_json,
    plan_chat,
    stream_head,
    stream_pieces,
    stream_tail,
)
from adapters.openai import OpenAIAdapter, OpenAIStreamMeter

MOCK_CHAT_URL = "mock:chat"
MOCK_HEADER_PREFIX = "x-bella-mock-"
# (channel option, header) pairs; header names are matched case-insensitively.
MOCK_SETTINGS = (
    ("ttft_ms", "X-Bella-Mock-TTFT-Ms"),
    ("interval_ms", "X-Bella-Mock-Interval-Ms"),
    ("tokens", "X-Bella-Mock-Tokens"),
    ("text", "X-Bella-Mock-Text"),
    ("status", "X-Bella-Mock-Status"),
)
DEFAULT_TOKENS = 16
MAX_TOKENS = 100_000
MAX_DELAY_MS = 600_000.0
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream; charset=utf-8"

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MockSettings:
    ttft_ms: float = 0.0
    interval_ms: float = 0.0
    tokens: int = DEFAULT_TOKENS
    text: str | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class MockResponse:
    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]


def parse_mock_settings(headers: Mapping[str, str]) -> MockSettings:
    """Settings from `X-Bella-Mock-*` headers (any case); unusable values mean the default."""
    found = {
        name.lower(): value
        for name, value in headers.items()
        if name.lower().startswith(MOCK_HEADER_PREFIX)
    }
    tokens = _number(found.get("x-bella-mock-tokens"), MAX_TOKENS)
    status = _number(found.get("x-bella-mock-status"), 599)
    return MockSettings(
        ttft_ms=_number(found.get("x-bella-mock-ttft-ms"), MAX_DELAY_MS) or 0.0,
        interval_ms=_number(found.get("x-bella-mock-interval-ms"), MAX_DELAY_MS) or 0.0,
        tokens=DEFAULT_TOKENS if tokens is None else int(tokens),
        text=found.get("x-bella-mock-text") or None,
        status=int(status) if status is not None and status >= 100 else None,
    )


def _number(value: str | None, ceiling: float) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not 0 <= number <= ceiling:  # also rejects nan
        return None
    return number


def mock_headers(options: Mapping[str, Any], client_headers: Mapping[str, str]) -> dict[str, str]:
    """The channel's mock options as headers, overridden by the client's `X-Bella-Mock-*`."""
    canonical = {header.lower(): header for _, header in MOCK_SETTINGS}
    merged = {
        header.lower(): str(options[option])
        for option, header in MOCK_SETTINGS
        if option in options
    }
    for name, value in client_headers.items():
        if name.lower().startswith(MOCK_HEADER_PREFIX):
            merged[name.lower()] = value
    return {canonical.get(name, name): value for name, value in merged.items()}


class MockAdapter:
    """`ChatAdapter` for the mock: OpenAI's wire format, addressed to `serve_chat`."""

    def __init__(self) -> None:
        self._openai = OpenAIAdapter()

    def chat_request(
        self,
        channel: Channel,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        wire = self._openai.chat_request(channel, body, client_headers)
        return UpstreamRequest(
            method="POST",
            url=MOCK_CHAT_URL,
            headers=mock_headers(channel.options, client_headers),
            body=wire.body,
            stream=wire.stream,
        )

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        return self._openai.chat_result(status, headers, data)

    def chat_stream(self, body: dict[str, Any]) -> OpenAIStreamMeter:
        return self._openai.chat_stream(body)


async def serve_chat(request: UpstreamRequest, *, sleep: Sleep = asyncio.sleep) -> MockResponse:
    """Answer a chat request as an OpenAI upstream would, timed by the mock settings.

    A non-stream answer arrives after the whole generation time; a stream answers at once
    and waits `ttft_ms` before its first chunk and `interval_ms` between pieces.
    """
    settings = parse_mock_settings(request.headers)
    if settings.status is not None and settings.status >= 400:
        return error_response(
            settings.status, f"Mock error {settings.status}, as X-Bella-Mock-Status asked."
        )
    body = _load_object(request.body)
    if body is None:
        return error_response(400, "The request body is not a JSON object.")
    plan = plan_chat(body, tokens=settings.tokens, text=settings.text)
    if body.get("stream") is True:
        return MockResponse(200, {"Content-Type": SSE_TYPE}, _stream_body(plan, settings, sleep))
    pauses = max(0, plan.completion_tokens - 1)
    await _pause(sleep, settings.ttft_ms + settings.interval_ms * pauses)
    return MockResponse(200, {"Content-Type": JSON_TYPE}, _single(completion_json(plan)))


def _load_object(data: bytes) -> dict[str, Any] | None:
    try:
        loaded = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return loaded if isinstance(loaded, dict) else None


def error_response(status: int, message: str) -> MockResponse:
    """An OpenAI-shaped error; a 429 carries `Retry-After: 1`."""
    if status == 429:
        kind, code = "rate_limit_error", "rate_limit_exceeded"
    elif status >= 500:
        kind, code = "server_error", None
    elif status in (401, 403):
        kind, code = ("authentication_error" if status == 401 else "permission_error"), None
    else:
        kind, code = "invalid_request_error", None
    error = {"message": message, "type": kind, "param": None, "code": code}
    headers = {"Content-Type": JSON_TYPE}
    if status == 429:
        headers["Retry-After"] = "1"
    return MockResponse(status, headers, _single(orjson.dumps({"error": error})))


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _pause(sleep: Sleep, millis: float) -> None:
    if millis > 0:
        await sleep(millis / 1000)


async def _stream_body(
    plan: ChatPlan, settings: MockSettings, sleep: Sleep
) -> AsyncIterator[bytes]:
    template = ChunkTemplate.of(plan)
    pieces = stream_pieces(plan, template)
    await _pause(sleep, settings.ttft_ms)
    if settings.interval_ms <= 0:
        # Nothing to wait for between pieces: one write, as a network would coalesce them.
        yield stream_head(plan, template) + b"".join(pieces) + stream_tail(plan, template)
        return
    yield stream_head(plan, template) + next(pieces, b"")
    for piece in pieces:
        await _pause(sleep, settings.interval_ms)
        yield piece
    yield stream_tail(plan, template)
