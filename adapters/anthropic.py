"""Anthropic Messages upstream: chat requests converted to `/v1/messages` and back.

Requests go through `messages.chat_to_messages`; answers (a `message`, or the
`message_start` … `message_stop` event stream) become OpenAI chat bodies and chunks:
text → `content`, thinking → `reasoning_content`, `tool_use` → `tool_calls` (streamed
through `input_json_delta` as argument fragments). Usage is reported in OpenAI terms: the
prompt counts Anthropic's `input_tokens` plus cache reads and writes, and cache reads are the
cached tokens. `AnthropicMessagesAdapter` relays Anthropic bodies unconverted (`/v1/messages`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from adapters.base import Channel, ChatResult, UpstreamRequest, Usage
from adapters.chunks import ChunkEmitter, Completion, ToolCall, completion_result
from adapters.errors import (
    UpstreamBadRequest,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from adapters.messages import DEFAULT_MAX_TOKENS, chat_to_messages
from adapters.openai import error_from_response, header, redact
from adapters.options import (
    ChannelOptions,
    client_body,
    upstream_body,
    upstream_model,
    with_extra_headers,
)
from adapters.sse import SSESplitter, event_data

API_VERSION = "2023-06-01"
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def messages_url(channel: Channel) -> str:
    base = channel.url.rstrip("/")
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")


def messages_headers(channel: Channel) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "anthropic-version": str(channel.options.get("anthropic_version") or API_VERSION),
    }
    api_key = channel.credentials.get("api_key")
    if api_key:
        headers["x-api-key"] = api_key
    beta = channel.options.get("anthropic_beta")
    if beta:
        headers["anthropic-beta"] = str(beta)
    return with_extra_headers(channel, headers)


def native_request(channel: Channel, payload: dict[str, Any]) -> UpstreamRequest:
    """The upstream request for an Anthropic Messages body, sent as it is but for `model`."""
    payload = upstream_body(channel, dict(payload))
    payload["model"] = upstream_model(channel, payload)
    return UpstreamRequest(
        method="POST",
        url=messages_url(channel),
        headers=messages_headers(channel),
        body=orjson.dumps(payload),
        stream=payload.get("stream") is True,
    )


def anthropic_usage(usage: object) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    cache_read = _count(usage.get("cache_read_input_tokens"))
    prompt = _count(usage.get("input_tokens")) + _count(usage.get("cache_creation_input_tokens"))
    return Usage(
        prompt_tokens=prompt + cache_read,
        completion_tokens=_count(usage.get("output_tokens")),
        cached_tokens=cache_read,
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def message_completion(message: dict[str, Any]) -> Completion:
    """A `message` object in OpenAI terms."""
    texts, thinking, calls = [], [], []
    for block in message.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(ToolCall(str(block.get("id", "")), str(block.get("name", "")), arguments))
    return Completion(
        id=str(message.get("id", "")),
        model=str(message.get("model", "")),
        content="".join(texts) or None,
        reasoning="".join(thinking) or None,
        tool_calls=tuple(calls),
        finish_reason=STOP_REASONS.get(str(message.get("stop_reason")), "stop"),
        usage=anthropic_usage(message.get("usage")),
    )


def stream_error(error: object) -> UpstreamError:
    """The error an `error` event of a stream reports."""
    kind = error.get("type") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    text = redact(str(message or kind or "The upstream reported an error."))[:300]
    if kind == "rate_limit_error":
        return UpstreamRateLimited(text)
    if kind in ("invalid_request_error", "not_found_error", "request_too_large"):
        return UpstreamBadRequest(text)
    return UpstreamServerError(text)


def load_object(data: bytes) -> dict[str, Any]:
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamProtocolError("The upstream answered with a body that is not JSON.") from exc
    if not isinstance(answer, dict):
        raise UpstreamProtocolError("The upstream answered with JSON that is not an object.")
    return answer


class AnthropicAdapter:
    """`ChatAdapter` for the Anthropic Messages API."""

    def chat_request(
        self,
        channel: Channel,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        return native_request(channel, chat_to_messages(client_body(channel, body)))

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        if not 200 <= status < 300:
            raise error_from_response(status, headers, data)
        answer = load_object(data)
        if answer.get("type") == "error":
            raise stream_error(answer.get("error"))
        return completion_result(message_completion(answer))

    def chat_stream(self, body: dict[str, Any]) -> AnthropicStreamMeter:
        return AnthropicStreamMeter(body)


class AnthropicStreamMeter(ChunkEmitter):
    """Anthropic's stream events in, OpenAI `chat.completion.chunk` events out."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        super().__init__(body)
        self._splitter = SSESplitter()
        self._prompt: Usage | None = None

    def feed(self, data: bytes) -> bytes:
        self.raise_pending()
        return self.checked(b"".join([self._event(e) for e in self._splitter.feed(data)]))

    def close(self) -> bytes:
        self.raise_pending()
        return self.checked(self._event(self._splitter.flush()))

    def _event(self, raw: bytes) -> bytes:
        payload = event_data(raw) if raw else None
        if payload is None:
            return b""
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise UpstreamProtocolError("The upstream sent an event that is not JSON.") from exc
        if not isinstance(event, dict):
            return b""
        return self._dispatch(str(event.get("type")), event)

    def _dispatch(self, kind: str, event: dict[str, Any]) -> bytes:
        match kind:
            case "message_start":
                return self._message_start(event.get("message"))
            case "content_block_start":
                return self._block_start(event.get("index"), event.get("content_block"))
            case "content_block_delta":
                return self._block_delta(event.get("index"), event.get("delta"))
            case "message_delta":
                return self._message_delta(event.get("delta"), event.get("usage"))
            case "message_stop":
                return self.end()
            case "error":
                self.fail(stream_error(event.get("error")))
        return b""  # ping, content_block_stop, and event types yet to come

    def _message_start(self, message: object) -> bytes:
        if isinstance(message, dict):
            self.model = str(message.get("model") or self.model)
            self.completion_id = str(message.get("id") or self.completion_id)
            self._prompt = self.usage = anthropic_usage(message.get("usage"))
        return self.open()

    def _block_start(self, index: object, block: object) -> bytes:
        if not isinstance(block, dict):
            return b""
        if block.get("type") == "tool_use":
            key = index if isinstance(index, int) else -1
            return self.tool_start(key, str(block.get("id", "")), str(block.get("name", "")))
        if block.get("type") == "text":
            return self.text(str(block.get("text") or ""))
        return b""

    def _block_delta(self, index: object, delta: object) -> bytes:
        if not isinstance(delta, dict):
            return b""
        match delta.get("type"):
            case "text_delta":
                return self.text(str(delta.get("text", "")))
            case "thinking_delta":
                return self.reasoning(str(delta.get("thinking", "")))
            case "input_json_delta":
                key = index if isinstance(index, int) else -1
                return self.tool_arguments(key, str(delta.get("partial_json", "")))
        return b""  # signature_delta, citations_delta

    def _message_delta(self, delta: object, usage: object) -> bytes:
        final = anthropic_usage(usage)
        if final is not None:
            start = self._prompt or Usage()
            if not final.prompt_tokens:  # older API versions report only output_tokens here
                final.prompt_tokens, final.cached_tokens = start.prompt_tokens, start.cached_tokens
            self.usage = final
        reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        if not isinstance(reason, str):
            return b""
        return self.finish(STOP_REASONS.get(reason, "stop"))


class AnthropicMessagesAdapter:
    """Anthropic Messages bodies relayed to an Anthropic channel unconverted (`/v1/messages`).

    Only `model` (the deploy name), dropped fields and a missing `max_tokens` are changed;
    the client's `anthropic-beta` header is passed on with the channel's. Answers are relayed
    as received, read only for usage, stop reason and the end of the stream.
    """

    def chat_request(
        self,
        channel: Channel,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        payload = dict(body)
        if "max_tokens" not in payload:
            payload["max_tokens"] = ChannelOptions.of(channel).max_tokens or DEFAULT_MAX_TOKENS
        request = native_request(channel, payload)
        beta = header(client_headers, "anthropic-beta")
        if not beta:
            return request
        headers = dict(request.headers)
        headers["anthropic-beta"] = ",".join(filter(None, [headers.get("anthropic-beta"), beta]))
        return replace(request, headers=headers)

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        if not 200 <= status < 300:
            raise error_from_response(status, headers, data)
        answer = load_object(data)
        if answer.get("type") == "error":
            raise stream_error(answer.get("error"))
        reason = STOP_REASONS.get(str(answer.get("stop_reason")), "stop")
        return ChatResult(
            body=data, usage=anthropic_usage(answer.get("usage")), finish_reason=reason
        )

    def chat_stream(self, body: dict[str, Any]) -> AnthropicRelayMeter:
        return AnthropicRelayMeter(body)


class AnthropicRelayMeter(AnthropicStreamMeter):
    """Anthropic's events forwarded as received, read like `AnthropicStreamMeter` reads them.

    An `error` event is forwarded too (the client's SDK raises it); the stream then ends
    without `message_stop`, which leaves `done` false.
    """

    def feed(self, data: bytes) -> bytes:
        events = self._splitter.feed(data)
        for raw in events:
            self._event(raw)
        return b"".join(events)

    def close(self) -> bytes:
        rest = self._splitter.flush()
        self._event(rest)
        return rest

    def fail(self, error: UpstreamError) -> None:
        self.error = error.message  # the error event itself goes to the client
