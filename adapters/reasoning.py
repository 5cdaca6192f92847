"""The channel option `reasoning: split|merge`, for clients that expect the other shape.

- `merge`: `reasoning_content` (or `reasoning`) is folded into `content` as
  `<think>…</think>` before the answer, for clients that only show `content`.
- `split`: a `<think>…</think>` block at the start of `content` (as self-hosted reasoning
  models write it) moves to `reasoning_content`. Only a block that opens the answer counts,
  so an answer that merely mentions the tag is left alone; newlines after the block are
  trimmed. While the opening tag may still be arriving, at most its length is held back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import Channel, ChatAdapter, ChatResult, StreamMeter, UpstreamRequest
from adapters.rewrite import Delta, DeltaRewriter, RewritingMeter, held_suffix, rewrite_result

OPEN = "<think>"
CLOSE = "</think>"
REASONING_KEYS = ("reasoning_content", "reasoning")


class ThinkMerge:
    """DeltaRewriter: reasoning deltas become `<think>`-wrapped content."""

    def __init__(self) -> None:
        self._inside = False

    def delta(self, delta: Delta) -> list[Delta] | None:
        reasoning = "".join(
            value for key in REASONING_KEYS if isinstance(value := delta.get(key), str)
        )
        content = delta.get("content")
        if not reasoning and not (self._inside and isinstance(content, str) and content):
            return None
        text = ""
        if reasoning:
            text = reasoning if self._inside else OPEN + reasoning
            self._inside = True
        if isinstance(content, str) and content:
            text += CLOSE + content if self._inside else content
            self._inside = False
        rest = {key: value for key, value in delta.items() if key not in REASONING_KEYS}
        return [{**rest, "content": text}]

    def flush(self) -> list[Delta]:
        if not self._inside:
            return []
        self._inside = False
        return [{"content": CLOSE}]

    def finish_reason(self, reason: str) -> str:
        return reason


class ThinkSplit:
    """DeltaRewriter: a leading `<think>` block of content becomes `reasoning_content`."""

    def __init__(self) -> None:
        self._state = "start"  # start → inside → after
        self._held = ""
        self._trim = False

    def delta(self, delta: Delta) -> list[Delta] | None:
        content = delta.get("content")
        if not isinstance(content, str) or (self._state == "after" and not self._trim):
            return None
        rest = {key: value for key, value in delta.items() if key != "content"}
        reasoning, answer = self._scan(self._held + content)
        out: list[Delta] = [rest] if rest else []
        if reasoning:
            out.append({"reasoning_content": reasoning})
        if answer:
            out.append({"content": answer})
        return out

    def _scan(self, text: str) -> tuple[str, str]:
        self._held = ""
        if self._state == "start":
            stripped = text.lstrip()
            if stripped.startswith(OPEN):
                self._state, text = "inside", stripped[len(OPEN) :]
            elif OPEN.startswith(stripped):
                self._held = text
                return "", ""
            else:
                self._state = "after"
                return "", text
        if self._state == "inside":
            end = text.find(CLOSE)
            if end < 0:
                keep = held_suffix(text, CLOSE)
                self._held = text[len(text) - keep :]
                return text[: len(text) - keep], ""
            self._state, self._trim = "after", True
            return text[:end], self._trimmed(text[end + len(CLOSE) :])
        return "", self._trimmed(text)

    def _trimmed(self, text: str) -> str:
        if self._trim:
            text = text.lstrip("\r\n")
            self._trim = not text
        return text

    def flush(self) -> list[Delta]:
        held, self._held = self._held, ""
        if not held:
            return []
        key = "reasoning_content" if self._state == "inside" else "content"
        return [{key: held}]

    def finish_reason(self, reason: str) -> str:
        return reason


def reasoning_rewriter(mode: str) -> DeltaRewriter:
    return ThinkMerge() if mode == "merge" else ThinkSplit()


class ReasoningAdapter:
    """ChatAdapter wrapper applying a channel's `reasoning` option to the answers."""

    def __init__(self, inner: ChatAdapter, mode: str) -> None:
        self._inner = inner
        self._mode = mode

    def chat_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        return self._inner.chat_request(channel, body, client_headers)

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        result = self._inner.chat_result(status, headers, data)
        return rewrite_result(result, reasoning_rewriter(self._mode))

    def chat_stream(self, body: dict[str, Any]) -> StreamMeter:
        return RewritingMeter(self._inner.chat_stream(body), reasoning_rewriter(self._mode))
