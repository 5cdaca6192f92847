"""Chat ⇄ Anthropic Messages request conversion, both directions, as pure functions.

`chat_to_messages` serves `anthropic` channels; `messages_to_chat` serves `/v1/messages`
requests sent to every other channel. The shapes map as follows:

| chat                                   | messages                                         |
|----------------------------------------|--------------------------------------------------|
| `system` / `developer` messages        | `system` (text blocks)                           |
| `image_url` part (data URL / http URL) | `image` block, `base64` / `url` source           |
| `file` part with a PDF data URL        | `document` block, `base64` source                |
| assistant `tool_calls`                 | `tool_use` blocks (`input` = parsed arguments)   |
| `tool` message                         | `tool_result` block in a user turn               |
| `tool_choice` auto/required/none/named | `{"type": auto/any/none/tool}`                   |
| `parallel_tool_calls: false`           | `disable_parallel_tool_use: true`                |
| `stop`, `max_tokens`, `user`           | `stop_sequences`, `max_tokens`, `metadata.user_id` |

Consecutive turns of one role are merged (Anthropic wants them alternating); empty text is
left out (Anthropic refuses text blocks without non-whitespace text).
"""

from __future__ import annotations

from typing import Any

import orjson

from adapters.chunks import arguments_object
from adapters.messages_blocks import (
    block_part,
    chat_tools,
    content_blocks,
    tool_result_block,
)
from adapters.turns import append_turn

DEFAULT_MAX_TOKENS = 4096
# Effort → thinking budget, for `reasoning_effort` sent to Anthropic.
THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
PASSED = ("temperature", "top_p", "top_k", "stream", "thinking", "service_tier")


def chat_to_messages(
    body: dict[str, Any], *, max_tokens: int = DEFAULT_MAX_TOKENS
) -> dict[str, Any]:
    """An Anthropic Messages body for a chat body (the model is set by the caller)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            _add_chat_message(message, system, turns)
    payload: dict[str, Any] = {"model": body.get("model"), "messages": turns}
    if system:
        payload["system"] = system
    payload["max_tokens"] = _max_tokens(body, max_tokens)
    payload.update({name: body[name] for name in PASSED if name in body})
    _add_chat_options(body, payload)
    return payload


def _max_tokens(body: dict[str, Any], default: int) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def _add_chat_message(
    message: dict[str, Any], system: list[dict[str, Any]], turns: list[dict[str, Any]]
) -> None:
    role = message.get("role")
    content = message.get("content")
    if role in ("system", "developer"):
        system.extend(b for b in content_blocks(content) if b.get("type") == "text")
    elif role == "user":
        append_turn(turns, "user", content_blocks(content))
    elif role == "assistant":
        blocks = content_blocks(content)
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict):
                blocks.append(_tool_use(call))
        append_turn(turns, "assistant", blocks)
    elif role == "tool":
        append_turn(turns, "user", [tool_result_block(message)])


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    if not isinstance(function, dict):
        function = {}
    return {
        "type": "tool_use",
        "id": str(call.get("id", "")),
        "name": str(function.get("name", "")),
        "input": arguments_object(function.get("arguments")),
    }


def _add_chat_options(body: dict[str, Any], payload: dict[str, Any]) -> None:
    stop = body.get("stop")
    if isinstance(stop, str):
        payload["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        payload["stop_sequences"] = [s for s in stop if isinstance(s, str)]
    user = body.get("user")
    if isinstance(user, str) and user:
        payload["metadata"] = {"user_id": user}
    effort = body.get("reasoning_effort")
    if "thinking" not in payload and effort in THINKING_BUDGETS:
        budget = THINKING_BUDGETS[effort]
        payload["thinking"] = {"type": "enabled", "budget_tokens": budget}
        payload["max_tokens"] = max(payload["max_tokens"], budget + 1024)
    _add_tools(body, payload)


def _add_tools(body: dict[str, Any], payload: dict[str, Any]) -> None:
    tools = []
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        if isinstance(function, dict):
            converted = {"name": function.get("name"), "input_schema": _schema(function)}
            if function.get("description"):
                converted["description"] = function["description"]
            tools.append(converted)
        elif tool.get("type") != "function":
            tools.append(tool)  # an Anthropic-native tool (web search, …): passed on
    if tools:
        payload["tools"] = tools
    choice = _tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False and tools:
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if choice is not None and tools:
        payload["tool_choice"] = choice


def _schema(function: dict[str, Any]) -> dict[str, Any]:
    schema = function.get("parameters")
    return schema if isinstance(schema, dict) else {"type": "object", "properties": {}}


def _tool_choice(choice: object) -> dict[str, Any] | None:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return {"type": "tool", "name": function["name"]}
    return None


# --- messages → chat ---------------------------------------------------------------------


def messages_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A chat body for an Anthropic Messages body (as `/v1/messages` receives it)."""
    messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for turn in body.get("messages") or ():
        if isinstance(turn, dict):
            messages.extend(_chat_messages(turn))
    payload: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    for name in ("max_tokens", "temperature", "top_p", "top_k", "stream"):
        if name in body:
            payload[name] = body[name]
    if body.get("stream") is True:
        payload["stream_options"] = {"include_usage": True}
    stop = body.get("stop_sequences")
    if isinstance(stop, list) and stop:
        payload["stop"] = stop
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        payload["user"] = metadata["user_id"]
    payload.update(chat_tools(body.get("tools"), body.get("tool_choice")))
    return payload


def _system_text(system: object) -> str:
    if isinstance(system, str):
        return system
    if not isinstance(system, list):
        return ""
    texts = [b["text"] for b in system if isinstance(b, dict) and isinstance(b.get("text"), str)]
    return "\n".join(texts)


def _chat_messages(turn: dict[str, Any]) -> list[dict[str, Any]]:
    role = turn.get("role")
    content = turn.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    if not isinstance(blocks, list):
        return []
    blocks = [b for b in blocks if isinstance(b, dict)]
    if role == "assistant":
        return [_chat_assistant(blocks)]
    out: list[dict[str, Any]] = []
    for block in blocks:
        if block.get("type") == "tool_result":
            out.append(_chat_tool_result(block))
    parts = [part for part in map(block_part, blocks) if part is not None]
    if parts:
        simple = len(parts) == 1 and parts[0]["type"] == "text" and isinstance(content, str)
        out.append({"role": "user", "content": parts[0]["text"] if simple else parts})
    return out


def _chat_assistant(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    texts, thinking, calls = [], [], []
    for block in blocks:
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            thinking.append(block["thinking"])
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": str(block.get("name", "")), "arguments": arguments}
            calls.append({"id": str(block.get("id", "")), "type": "function", "function": function})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    if calls:
        message["tool_calls"] = calls
    return message


def _chat_tool_result(block: dict[str, Any]) -> dict[str, Any]:
    content = block.get("content")
    if isinstance(content, list):
        content = "".join(
            b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
    text = content if isinstance(content, str) else ""
    if block.get("is_error") is True:
        text = "Error: " + text
    return {"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": text}
