"""Writing OpenAI's chat wire format for upstreams that speak something else.

`Completion` is one normalised non-stream answer and `completion_result` its
`chat.completion` body. `ChunkEmitter` writes a `chat.completion.chunk` SSE stream piece by
piece and keeps the `StreamMeter` attributes; the translating meters of the Anthropic, Gemini
and Bedrock adapters inherit it and call its methods as vendor events arrive.

A vendor error that arrives inside a stream is raised from `feed`, after any bytes converted
before it in the same call have been handed out (it is held until the next `feed`/`close`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from adapters.base import ChatResult, Usage
from adapters.errors import UpstreamError
from adapters.openai import client_wants_usage

DONE_EVENT = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI sends it


@dataclass(frozen=True, slots=True)
class Completion:
    """One choice of a non-stream answer, in OpenAI terms."""

    model: str
    content: str | None
    finish_reason: str
    usage: Usage | None
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    id: str = ""


def arguments_object(arguments: object) -> dict[str, Any]:
    """Tool-call arguments (JSON text) as an object; {} when they are not a JSON object."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments:
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def new_completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def usage_object(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def tool_call_object(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def completion_object(completion: Completion) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": completion.content}
    if completion.reasoning:
        message["reasoning_content"] = completion.reasoning
    if completion.tool_calls:
        message["tool_calls"] = [tool_call_object(call) for call in completion.tool_calls]
    answer: dict[str, Any] = {
        "id": completion.id or new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": completion.model,
        "choices": [{"index": 0, "message": message, "finish_reason": completion.finish_reason}],
    }
    if completion.usage is not None:
        answer["usage"] = usage_object(completion.usage)
    return answer


def completion_result(completion: Completion) -> ChatResult:
    return ChatResult(
        body=orjson.dumps(completion_object(completion)),
        usage=completion.usage,
        finish_reason=completion.finish_reason,
    )


class ChunkEmitter:
    """Writes one choice's `chat.completion.chunk` events; the StreamMeter attributes."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        model = body.get("model")
        self.model = model if isinstance(model, str) else ""
        self.completion_id = new_completion_id()
        self.created = int(time.time())
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.done = False
        self.error: str | None = None  # a relay's: translating meters raise (see `fail`)
        self._include_usage = client_wants_usage(body)
        self._opened = False
        self._tools: dict[Hashable, int] = {}
        self._error: UpstreamError | None = None

    # --- what the vendor meters call ---------------------------------------------------

    def open(self) -> bytes:
        """The role chunk that starts every OpenAI stream; empty once sent."""
        if self._opened:
            return b""
        self._opened = True
        return self._emit_chunk({"role": "assistant", "content": ""}, None)

    def text(self, text: str) -> bytes:
        return self._emit_delta({"content": text}) if text else b""

    def reasoning(self, text: str) -> bytes:
        return self._emit_delta({"reasoning_content": text}) if text else b""

    def tool_start(self, key: Hashable, call_id: str, name: str, arguments: str = "") -> bytes:
        """A new tool call, known to the vendor by `key` (a block index, say)."""
        index = self._tools.setdefault(key, len(self._tools))
        call = {"index": index, "id": call_id, "type": "function"}
        call["function"] = {"name": name, "arguments": arguments}
        return self._emit_delta({"tool_calls": [call]})

    def tool_arguments(self, key: Hashable, fragment: str) -> bytes:
        index = self._tools.get(key)
        if index is None or not fragment:
            return b""
        return self._emit_delta(
            {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
        )

    @property
    def has_tool_calls(self) -> bool:
        return bool(self._tools)

    def finish(self, reason: str) -> bytes:
        self.finish_reason = reason
        return self.open() + self._emit_chunk({}, reason)

    def end(self) -> bytes:
        """The usage chunk (when the client asked for it) and `[DONE]`; empty once sent."""
        if self.done:
            return b""
        self.done = True
        out = self.open()
        if self._include_usage and self.usage is not None:
            out += self._emit_event({"choices": [], "usage": usage_object(self.usage)})
        return out + DONE_EVENT

    def fail(self, error: UpstreamError) -> None:
        """Remember a vendor error; `checked` raises it once the bytes before it are out."""
        if self._error is None:
            self._error = error

    def raise_pending(self) -> None:
        """Raise a remembered error: call first in `feed` and `close`."""
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def checked(self, out: bytes) -> bytes:
        """`out`, or the remembered error at once when there is nothing to hand out first."""
        if not out:
            self.raise_pending()
        return out

    # --- rendering ------------------------------------------------------------------------

    def _emit_delta(self, delta: dict[str, Any]) -> bytes:
        return self.open() + self._emit_chunk(delta, None)

    def _emit_chunk(self, delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._emit_event({"choices": [choice]})

    def _emit_event(self, fields: dict[str, Any]) -> bytes:
        chunk = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            **fields,
        }
        return b"data: " + orjson.dumps(chunk) + b"\n\n"
