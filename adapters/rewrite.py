"""Rewriting an OpenAI chat answer after an adapter produced it, stream or not.

`DeltaRewriter` is the small interface of a rewrite (reasoning split/merge, function-call
emulation): it sees choice 0's deltas in order and may replace each with other deltas, hold
text back, and change the finish reason. `RewritingMeter` applies one to the output of any
StreamMeter whose output is OpenAI chunk SSE; events it leaves alone are forwarded as the
exact bytes received.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from adapters.base import ChatResult, StreamMeter, Usage
from adapters.sse import SSESplitter, event_data

_DONE = b"[DONE]"
Delta = dict[str, Any]


class DeltaRewriter(Protocol):
    def delta(self, delta: Delta) -> list[Delta] | None:
        """The deltas to send instead of `delta`; None to send it unchanged."""
        ...

    def flush(self) -> list[Delta]:
        """Deltas for anything held back, at the end of the choice."""
        ...

    def finish_reason(self, reason: str) -> str: ...


def carries_output(delta: Delta) -> bool:
    """A delta with content, reasoning or tool calls (not a role-only opening)."""
    return any(value for key, value in delta.items() if key != "role")


class RewritingMeter:
    """A StreamMeter that rewrites the OpenAI chunks another StreamMeter produces."""

    __slots__ = (
        "_flushed",
        "_inner",
        "_rewriter",
        "_splitter",
        "_template",
        "done",
        "finish_reason",
        "usage",
    )

    def __init__(self, inner: StreamMeter, rewriter: DeltaRewriter) -> None:
        self._inner = inner
        self._rewriter = rewriter
        self._splitter = SSESplitter()
        self._template: dict[str, Any] | None = None
        self._flushed = False
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.done = False

    @property
    def error(self) -> str | None:
        return self._inner.error

    def feed(self, data: bytes) -> bytes:
        out = self._rewrite(self._inner.feed(data))
        self.usage = self._inner.usage
        return out

    def close(self) -> bytes:
        out = self._rewrite(self._inner.close()) + self._rewrite_event(self._splitter.flush())
        self.usage = self._inner.usage
        return out

    def _rewrite(self, data: bytes) -> bytes:
        if not data:
            return b""
        return b"".join([self._rewrite_event(event) for event in self._splitter.feed(data)])

    def _rewrite_event(self, raw: bytes) -> bytes:
        payload = event_data(raw) if raw else None
        if payload is None:
            return raw
        if payload == _DONE:
            self.done = True
            return self._late_flush() + raw
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return raw
        choice = _first_choice(chunk)
        if choice is None:
            return raw
        return self._rewrite_choice(raw, chunk, choice)

    def _rewrite_choice(self, raw: bytes, chunk: dict[str, Any], choice: dict[str, Any]) -> bytes:
        self._template = chunk
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        reason = choice.get("finish_reason")
        replaced = self._rewriter.delta(delta)
        if not isinstance(reason, str) or not reason:
            if replaced is None:
                return raw
            return self._render(chunk, replaced, None)
        deltas = [delta] if replaced is None else replaced
        deltas = [*deltas, *self._rewriter.flush()]
        self._flushed = True
        self.finish_reason = self._rewriter.finish_reason(reason)
        return self._render(chunk, deltas, self.finish_reason)

    def _late_flush(self) -> bytes:
        """Text still held when `[DONE]` comes without a finish_reason chunk before it."""
        if self._flushed or self._template is None:
            return b""
        self._flushed = True
        return self._render(self._template, self._rewriter.flush(), None)

    def _render(self, chunk: dict[str, Any], deltas: list[Delta], reason: str | None) -> bytes:
        deltas = [delta for delta in deltas if carries_output(delta) or "role" in delta]
        if reason is not None and not deltas:
            deltas = [{}]
        fields = {key: value for key, value in chunk.items() if key not in ("choices", "usage")}
        out = []
        for position, delta in enumerate(deltas):
            last = position == len(deltas) - 1
            choice = {"index": 0, "delta": delta, "finish_reason": reason if last else None}
            event = {**fields, "choices": [choice]}
            if last and "usage" in chunk:
                event["usage"] = chunk["usage"]
            out.append(b"data: " + orjson.dumps(event) + b"\n\n")
        return b"".join(out)


def _first_choice(chunk: object) -> dict[str, Any] | None:
    if not isinstance(chunk, dict):
        return None
    choices = chunk.get("choices")
    if not isinstance(choices, list) or len(choices) != 1:
        return None
    choice = choices[0]
    if not isinstance(choice, dict) or choice.get("index", 0) != 0:
        return None
    return choice


def rewrite_message(message: dict[str, Any], rewriter: DeltaRewriter) -> list[Delta]:
    """A non-stream message seen as one delta, rewritten, plus the flush."""
    replaced = rewriter.delta(dict(message))
    return [*([message] if replaced is None else replaced), *rewriter.flush()]


def merge_deltas(deltas: list[Delta]) -> dict[str, Any]:
    """Deltas joined back into one message: texts concatenated, tool calls listed."""
    message: dict[str, Any] = {"role": "assistant", "content": None}
    texts: dict[str, list[str]] = {"content": [], "reasoning_content": []}
    calls: list[dict[str, Any]] = []
    for delta in deltas:
        for key, value in delta.items():
            if key in texts and isinstance(value, str):
                texts[key].append(value)
            elif key == "tool_calls" and isinstance(value, list):
                calls.extend(call for call in value if isinstance(call, dict))
            elif key not in texts and key != "role":
                message[key] = value
    content = "".join(texts["content"])
    message["content"] = content or None
    if texts["reasoning_content"]:
        message["reasoning_content"] = "".join(texts["reasoning_content"])
    if calls:
        message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
    return message


def rewrite_result(result: ChatResult, rewriter: DeltaRewriter) -> ChatResult:
    """A non-stream answer with choice 0's message rewritten; other bodies unchanged."""
    try:
        answer = orjson.loads(result.body)
    except orjson.JSONDecodeError:
        return result
    choice = _first_choice(answer)
    message = choice.get("message") if choice is not None else None
    if choice is None or not isinstance(message, dict):
        return result
    choice["message"] = merge_deltas(rewrite_message(message, rewriter))
    reason = choice.get("finish_reason")
    if isinstance(reason, str) and reason:
        reason = choice["finish_reason"] = rewriter.finish_reason(reason)
    else:
        reason = result.finish_reason
    return ChatResult(body=orjson.dumps(answer), usage=result.usage, finish_reason=reason)


def held_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that could be the start of `tag`."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
