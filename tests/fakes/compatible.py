"""OpenAI's chat wire format as the OpenAI-compatible vendors (Azure, DashScope, Ark) write it.

The vendor fakes use these to check a chat body and to render the scripted answer; each
adds its own path, auth, error shape and quirks (`extra` fields in chunks, reasoning, usage
details).
"""

from __future__ import annotations

import time
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
    planned_call,
)


def check_chat_body(body: dict[str, Any], *, model_required: bool = True) -> None:
    if model_required and (not isinstance(body.get("model"), str) or not body["model"]):
        raise BadRequest("you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must contain at least one message")
    calls: set[str] = set()
    for message in messages:
        if message.get("role") not in ("system", "developer", "user", "assistant", "tool"):
            raise BadRequest(f"Invalid value for 'role': {message.get('role')!r}")
        for call in message.get("tool_calls") or ():
            calls.add(call["id"])
        if message["role"] == "tool" and message.get("tool_call_id") not in calls:
            raise BadRequest("messages with role 'tool' must be a response to a tool_call")
    options = body.get("stream_options")
    if options is not None and body.get("stream") is not True:
        raise BadRequest("stream_options is only allowed when stream is true")


def planned(body: dict[str, Any]) -> Call | None:
    tools = [
        {"name": tool["function"]["name"], "schema": tool["function"].get("parameters")}
        for tool in body.get("tools") or ()
    ]
    if body.get("tool_choice") == "none":
        tools = []
    return planned_call(tools, body["messages"][-1].get("role") == "tool")


def usage(details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS},
        **(details or {}),
    }


def _tool_call(call: Call) -> dict[str, Any]:
    arguments = orjson.dumps(call.arguments).decode()
    function = {"name": call.name, "arguments": arguments}
    return {"id": "call_fake01", "type": "function", "function": function}


def completion(
    body: dict[str, Any],
    call: Call | None,
    *,
    reasoning: bool = False,
    usage_object: dict[str, Any] | None = None,
    choice_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if call else "".join(PIECES)}
    if reasoning:
        message["reasoning_content"] = REASONING
    if call is not None:
        message["tool_calls"] = [_tool_call(call)]
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if call else "stop"}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or "deployment-model",
        "choices": [{**choice, **(choice_extra or {})}],
        "usage": usage_object or usage(),
    }


def chunks(
    body: dict[str, Any],
    call: Call | None,
    *,
    reasoning: bool = False,
    usage_object: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The stream's chunks, without `[DONE]`; a usage chunk when `include_usage`."""
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if reasoning:
        deltas += [{"reasoning_content": REASONING[:10]}, {"reasoning_content": REASONING[10:]}]
    if call is None:
        deltas += [{"content": piece} for piece in PIECES]
    else:
        opening = _tool_call(call)
        arguments = opening["function"]["arguments"]
        opening["function"] = {"name": call.name, "arguments": ""}
        deltas.append({"tool_calls": [{"index": 0, **opening}]})
        for half in (arguments[:6], arguments[6:]):
            deltas.append({"tool_calls": [{"index": 0, "function": {"arguments": half}}]})
    model = body.get("model") or "deployment-model"
    head = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model}
    out = [{**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    finish = "tool_calls" if call else "stop"
    out.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        out.append({**head, "choices": [], "usage": usage_object or usage()})
    return out


async def write_stream(
    request: web.Request, events: list[dict[str, Any]], *, done: bool = True
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for event in events:
        await response.write(b"data: " + orjson.dumps(event) + b"\n\n")
    if done:
        await response.write(b"data: [DONE]\n\n")
    return response


def json_response(value: Any, status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(value),
        content_type="application/json",
        headers=headers or None,
    )
