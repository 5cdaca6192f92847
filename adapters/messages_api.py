"""Serving the Anthropic Messages API (`/v1/messages`) from a chat channel, sans-I/O.

`MessagesAdapter` wraps the chat adapter of any channel: the gateway hands it the chat body
that `messages.messages_to_chat` made of the client's request, and it turns the answer back
into Anthropic's shapes — a `message` body, or the `message_start`, `content_block_*`,
`message_delta`, `message_stop` event stream (`MessagesStreamMeter`). Anthropic channels are
not converted at all: `anthropic.AnthropicMessagesAdapter` relays them natively.

The stream conversion keeps one content block open at a time, as Anthropic streams do:
reasoning deltas go to a `thinking` block, content to a `text` block, and each new tool call
opens a `tool_use` block whose arguments arrive as `input_json_delta`. Usage arrives last in
OpenAI streams, so it is reported in `message_delta` (input and output tokens).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import orjson

from adapters.base import Channel, ChatAdapter, ChatResult, StreamMeter, UpstreamRequest, Usage
from adapters.chunks import arguments_object
from adapters.openai import parse_usage
from adapters.sse import SSESplitter, event_data

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def anthropic_usage_object(usage: Usage | None) -> dict[str, int]:
    usage = usage or Usage()
    return {
        "input_tokens": max(0, usage.prompt_tokens - usage.cached_tokens),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
    }


def completion_to_message(answer: dict[str, Any], usage: Usage | None) -> dict[str, Any]:
    """An Anthropic `message` for an OpenAI `chat.completion` body."""
    choices = answer.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    message = choice.get("message") if isinstance(choice, dict) else None
    message = message if isinstance(message, dict) else {}
    content: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            content.append(
                {
                    "type": "tool_use",
                    "id": str(call.get("id") or "toolu_" + secrets.token_hex(12)),
                    "name": str(function.get("name", "")),
                    "input": arguments_object(function.get("arguments")),
                }
            )
    reason = choice.get("finish_reason") if isinstance(choice, dict) else None
    return {
        "id": new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": str(answer.get("model", "")),
        "content": content,
        "stop_reason": STOP_REASONS.get(str(reason), "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage_object(usage),
    }


def sse_event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


class MessagesAdapter:
    """ChatAdapter wrapper whose answers are Anthropic Messages bodies and events."""

    def __init__(self, inner: ChatAdapter) -> None:
        self._inner = inner

    def chat_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        return self._inner.chat_request(channel, body, client_headers)

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        result = self._inner.chat_result(status, headers, data)
        answer = orjson.loads(result.body)
        body = orjson.dumps(completion_to_message(answer, result.usage))
        return ChatResult(body=body, usage=result.usage, finish_reason=result.finish_reason)

    def chat_stream(self, body: dict[str, Any]) -> StreamMeter:
        return MessagesStreamMeter(self._inner.chat_stream(body))


class MessagesStreamMeter:
    """OpenAI chunk SSE (from another meter) in, Anthropic Messages events out."""

    __slots__ = (
        "_block",
        "_index",
        "_inner",
        "_model",
        "_splitter",
        "_stop",
        "_tools",
        "done",
        "finish_reason",
        "usage",
    )

    def __init__(self, inner: StreamMeter) -> None:
        self._inner = inner
        self._splitter = SSESplitter()
        self._model: str | None = None  # set by the first chunk, with message_start
        self._block: str | None = None  # the open block's type
        self._index = -1  # the open block's index
        self._tools: dict[int, int] = {}  # OpenAI tool-call index → block index
        self._stop: str | None = None
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.done = False

    @property
    def error(self) -> str | None:
        return self._inner.error

    def feed(self, data: bytes) -> bytes:
        return self._convert(self._inner.feed(data))

    def close(self) -> bytes:
        return self._convert(self._inner.close()) + self._event(self._splitter.flush())

    def _convert(self, data: bytes) -> bytes:
        if not data:
            return b""
        return b"".join([self._event(raw) for raw in self._splitter.feed(data)])

    def _event(self, raw: bytes) -> bytes:
        payload = event_data(raw) if raw else None
        if payload is None or self.done:
            return b""
        if payload == b"[DONE]":
            return self._finish()
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return b""
        if not isinstance(chunk, dict):
            return b""
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], dict) else {}
            message = str(error.get("message") or "The upstream failed.")
            return sse_event("error", {"error": {"type": "api_error", "message": message}})
        return self._chunk(chunk)

    def _chunk(self, chunk: dict[str, Any]) -> bytes:
        out = self._start(chunk)
        usage = parse_usage(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                out += self._delta(delta)
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                self.finish_reason = reason
                self._stop = STOP_REASONS.get(reason, "end_turn")
        return out

    def _start(self, chunk: dict[str, Any]) -> bytes:
        if self._model is not None:
            return b""
        self._model = str(chunk.get("model") or "")
        message: dict[str, Any] = {
            "id": new_message_id(),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return sse_event("message_start", {"message": message})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        out = b""
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out += self._block_delta({"type": "thinking_delta", "thinking": reasoning})
        content = delta.get("content")
        if isinstance(content, str) and content:
            out += self._open("text", {"type": "text", "text": ""})
            out += self._block_delta({"type": "text_delta", "text": content})
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                out += self._tool_delta(call)
        return out

    def _tool_delta(self, call: dict[str, Any]) -> bytes:
        position = call.get("index", 0)
        function = call.get("function")
        if not isinstance(function, dict):
            function = {}
        out = b""
        if position not in self._tools:
            block = {"type": "tool_use", "id": str(call.get("id") or ""), "input": {}}
            block["name"] = str(function.get("name") or "")
            out += self._open("tool_use", block, force=True)
            self._tools[position] = self._index
        fragment = function.get("arguments")
        if isinstance(fragment, str) and fragment and self._tools[position] == self._index:
            out += self._block_delta({"type": "input_json_delta", "partial_json": fragment})
        return out

    def _open(self, kind: str, block: dict[str, Any], *, force: bool = False) -> bytes:
        if self._block == kind and not force:
            return b""
        out = self._close_block()
        self._block, self._index = kind, self._index + 1
        return out + sse_event(
            "content_block_start", {"index": self._index, "content_block": block}
        )

    def _block_delta(self, delta: dict[str, Any]) -> bytes:
        return sse_event("content_block_delta", {"index": self._index, "delta": delta})

    def _close_block(self) -> bytes:
        if self._block is None:
            return b""
        self._block = None
        return sse_event("content_block_stop", {"index": self._index})

    def _finish(self) -> bytes:
        self.done = True
        out = self._start({}) + self._close_block()
        self.usage = self.usage or self._inner.usage
        delta = {"stop_reason": self._stop or "end_turn", "stop_sequence": None}
        usage = anthropic_usage_object(self.usage)
        out += sse_event("message_delta", {"delta": delta, "usage": usage})
        return out + sse_event("message_stop", {})
