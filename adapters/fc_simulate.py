"""Function-call emulation for channels with `options.function_call_simulate: true`.

`FunctionCallAdapter` wraps the channel's adapter: requests that use tools (or carry tool
history) are rewritten by `fc_prompt` into plain chat, and the reply is scanned for
`<tool_call>` blocks, which become OpenAI `tool_calls` (finish_reason `tool_calls`).

The scan is a `DeltaRewriter`, the same for stream and non-stream answers. Plain text flows
through at once except a tail that could be the start of `<tool_call>` (and whitespace before
it); from an opening tag on, text is held until the closing tag. A block whose JSON is not
`{"name": <a tool offered>, "arguments": {…}}`, or that never closes, is passed on as the
text it was: a malformed reply degrades to content, never to an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from adapters.base import Channel, ChatAdapter, ChatResult, StreamMeter, UpstreamRequest
from adapters.chunks import ToolCall, new_call_id
from adapters.fc_prompt import (
    CALL_CLOSE,
    CALL_OPEN,
    emulated_body,
    function_tools,
    needs_emulation,
)
from adapters.rewrite import Delta, RewritingMeter, held_suffix, rewrite_result


def parse_call(block: str, names: frozenset[str]) -> ToolCall | None:
    """The call in the text between the tags, or None when it is not a well-formed call."""
    try:
        call = orjson.loads(block.strip())
    except orjson.JSONDecodeError:
        return None
    if not isinstance(call, dict) or call.get("name") not in names:
        return None
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ToolCall(new_call_id(), call["name"], orjson.dumps(arguments).decode())


class CallScanner:
    """DeltaRewriter: `<tool_call>` blocks in content become tool-call deltas."""

    def __init__(self, names: frozenset[str]) -> None:
        self._names = names
        self._text = ""  # held: a possible tag start in text mode, the block in call mode
        self._in_call = False
        self._calls = 0

    def delta(self, delta: Delta) -> list[Delta] | None:
        content = delta.get("content")
        if not isinstance(content, str) or (not content and not self._text):
            return None
        rest = {key: value for key, value in delta.items() if key != "content"}
        out: list[Delta] = [rest] if rest else []
        return out + self._scan(self._text + content)

    def _scan(self, text: str) -> list[Delta]:
        out: list[Delta] = []
        while text:
            if self._in_call:
                end = text.find(CALL_CLOSE)
                if end < 0:
                    break
                out.append(self._block(text[: end + len(CALL_CLOSE)]))
                text, self._in_call = text[end + len(CALL_CLOSE) :], False
                continue
            start = text.find(CALL_OPEN)
            if start >= 0:
                self._in_call = True
                out.append({"content": text[:start].rstrip()})
                text = text[start:]
                continue
            keep = _held_tail(text)
            out.append({"content": text[: len(text) - keep]})
            text = text[len(text) - keep :]
            break
        self._text = text
        return [delta for delta in out if delta.get("content") != ""]

    def _block(self, block: str) -> Delta:
        call = parse_call(block[len(CALL_OPEN) : -len(CALL_CLOSE)], self._names)
        if call is None:
            return {"content": block}
        index, self._calls = self._calls, self._calls + 1
        function = {"name": call.name, "arguments": call.arguments}
        tool_call = {"index": index, "id": call.id, "type": "function", "function": function}
        return {"tool_calls": [tool_call]}

    def flush(self) -> list[Delta]:
        text, self._text, self._in_call = self._text, "", False
        if not text or (not text.strip() and self._calls):
            return []
        return [{"content": text}]

    def finish_reason(self, reason: str) -> str:
        return "tool_calls" if self._calls and reason == "stop" else reason


def _held_tail(text: str) -> int:
    """How much of the end of `text` to hold: a partial `<tool_call>` and blanks before it."""
    keep = held_suffix(text, CALL_OPEN)
    body = text[: len(text) - keep]
    return keep + len(body) - len(body.rstrip())


def offered_names(body: dict[str, Any]) -> frozenset[str]:
    """The tools the model may call: none when `tool_choice` is "none"."""
    if body.get("tool_choice", body.get("function_call")) == "none":
        return frozenset()
    return frozenset(tool["name"] for tool in function_tools(body))


class FunctionCallAdapter:
    """ChatAdapter wrapper that emulates tools in the prompt for the `inner` adapter.

    Unlike the protocol adapters it serves ONE request: `chat_request` remembers the tools
    offered, which `chat_result` needs to read the reply (`chat_adapter_for` builds one per
    call). A reply to a request that offered no tools is passed on untouched.
    """

    def __init__(self, inner: ChatAdapter) -> None:
        self._inner = inner
        self._names: frozenset[str] = frozenset()

    def chat_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        self._names = offered_names(body)
        if needs_emulation(body):
            body = emulated_body(body)
        return self._inner.chat_request(channel, body, client_headers)

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult:
        result = self._inner.chat_result(status, headers, data)
        if not self._names:
            return result
        return rewrite_result(result, CallScanner(self._names))

    def chat_stream(self, body: dict[str, Any]) -> StreamMeter:
        meter = self._inner.chat_stream(body)
        names = offered_names(body)
        return RewritingMeter(meter, CallScanner(names)) if names else meter
