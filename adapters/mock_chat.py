"""What the mock chat model answers, and its OpenAI wire format, without any timing.

`plan_chat` decides the answer once per request (text pieces, or one tool call whose
arguments are streamed in fragments); the renderers turn a plan into a `chat.completion`
JSON body or `chat.completion.chunk` SSE events. Streams are rendered from byte templates:
the chunk around a delta is built once per request, and the chunk of a repeated word once
per word, so a long stream costs one dict lookup per token.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

DEFAULT_TEXT = (
    "Hello! This is the Bella Gateway mock model. It streams one word at a time, so clients, "
    "dashboards and load tests can be exercised without calling a real model."
)
ARGUMENT_FRAGMENT_CHARS = 4  # about one token of JSON per tool-call arguments delta
SCHEMA_MAX_DEPTH = 8
DONE_EVENT = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI sends it


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """One mock answer: text `pieces`, or argument fragments when `tool_call` is set."""

    completion_id: str
    created: int
    model: str
    pieces: tuple[str, ...]
    finish_reason: str
    prompt_tokens: int
    include_usage: bool
    tool_call: ToolCall | None = None

    @property
    def completion_tokens(self) -> int:
        return len(self.pieces)


def plan_chat(body: dict[str, Any], *, tokens: int, text: str | None) -> ChatPlan:
    """Decide the answer to a chat request: a tool call when the request calls for one."""
    model = body.get("model")
    options = body.get("stream_options")
    tool = _chosen_tool(body)
    common: dict[str, Any] = {
        "completion_id": "chatcmpl-" + secrets.token_hex(12),
        "created": int(time.time()),
        "model": model if isinstance(model, str) and model else "mock",
        "prompt_tokens": estimate_prompt_tokens(body.get("messages")),
        "include_usage": isinstance(options, dict) and options.get("include_usage") is True,
    }
    if tool is not None:
        call = ToolCall(
            id="call_" + secrets.token_hex(12),
            name=str(tool.get("name") or "tool"),
            arguments=orjson.dumps(schema_arguments(tool.get("parameters"))).decode(),
        )
        pieces = _fragments(call.arguments)
        return ChatPlan(pieces=pieces, finish_reason="tool_calls", tool_call=call, **common)
    limit = _token_limit(body)
    count = tokens if limit is None else min(tokens, limit)
    reason = "length" if count < tokens else "stop"
    return ChatPlan(pieces=text_pieces(text, count), finish_reason=reason, **common)


def text_pieces(text: str | None, count: int) -> tuple[str, ...]:
    """`count` whitespace-split words of `text` (cycled), each after the first with a space."""
    words = (text or "").split() or DEFAULT_TEXT.split()
    spaced = [" " + word for word in words]
    size = len(words)
    return tuple(spaced[index % size] if index else words[0] for index in range(count))


def _fragments(arguments: str) -> tuple[str, ...]:
    step = ARGUMENT_FRAGMENT_CHARS
    return tuple(arguments[start : start + step] for start in range(0, len(arguments), step))


def _token_limit(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def estimate_prompt_tokens(messages: object) -> int:
    """About four characters per token of the messages' text, at least 1."""
    chars = 0
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                chars += _text_length(message.get("content"))
    return max(1, (chars + 3) // 4)


def _text_length(content: object) -> int:
    if isinstance(content, str):
        return len(content)
    if not isinstance(content, list):
        return 0
    return sum(
        len(part["text"])
        for part in content
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    )


def _chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The `function` object to call, or None when the answer should be text."""
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if not isinstance(tools, list) or choice == "none" or _last_is_tool_result(body):
        return None
    functions: list[dict[str, Any]] = [
        tool["function"]
        for tool in tools
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict)
    ]
    if not functions:
        return None
    wanted = _named_choice(choice)
    for function in functions:
        if wanted is not None and function.get("name") == wanted:
            return function
    return functions[0]


def _last_is_tool_result(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    last = messages[-1]
    return isinstance(last, dict) and last.get("role") == "tool"


def _named_choice(choice: object) -> str | None:
    if not isinstance(choice, dict):
        return None
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    return name if isinstance(name, str) else None


def schema_arguments(schema: object, depth: int = 0) -> dict[str, Any]:
    """Arguments with a sample value for each `required` property of a JSON schema."""
    if not isinstance(schema, dict):
        return {}
    properties = schema.get("properties")
    required = schema.get("required")
    if not isinstance(properties, dict) or not isinstance(required, list):
        return {}
    return {
        name: _sample(properties.get(name), depth) for name in required if isinstance(name, str)
    }


def _sample(schema: object, depth: int) -> Any:
    if not isinstance(schema, dict):
        return "mock"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    match _schema_type(schema.get("type")):
        case "number" | "integer":
            return 1
        case "boolean":
            return True
        case "array":
            return []
        case "object":
            return schema_arguments(schema, depth + 1) if depth < SCHEMA_MAX_DEPTH else {}
        case "null":
            return None
        case _:
            return "mock"


def _schema_type(kind: object) -> str | None:
    if isinstance(kind, list):  # ["string", "null"]: the first non-null type
        kind = next((item for item in kind if item != "null"), "null")
    return kind if isinstance(kind, str) else None


def usage_object(plan: ChatPlan) -> dict[str, Any]:
    completion = plan.completion_tokens
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": plan.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_json(plan: ChatPlan) -> bytes:
    """The non-stream `chat.completion` body."""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(plan.pieces)}
    if plan.tool_call is not None:
        call = plan.tool_call
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
        ]
    message["refusal"] = None
    message["annotations"] = []
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": plan.finish_reason}
    return orjson.dumps(
        {
            "id": plan.completion_id,
            "object": "chat.completion",
            "created": plan.created,
            "model": plan.model,
            "choices": [choice],
            "usage": usage_object(plan),
            "system_fingerprint": None,
        }
    )


@dataclass(frozen=True, slots=True)
class ChunkTemplate:
    """The bytes of a `chat.completion.chunk` event around its delta."""

    fields: bytes  # "id"… up to the choices, shared by every chunk of the stream
    prefix: bytes
    suffix: bytes
    usage_null: bytes

    @classmethod
    def of(cls, plan: ChatPlan) -> ChunkTemplate:
        fields = b'"id":%s,"object":"chat.completion.chunk","created":%d,"model":%s' % (
            orjson.dumps(plan.completion_id),
            plan.created,
            orjson.dumps(plan.model),
        )
        fields += b',"system_fingerprint":null'
        usage_null = b',"usage":null' if plan.include_usage else b""
        return cls(
            fields=fields,
            prefix=b"data: {" + fields + b',"choices":[{"index":0,"delta":',
            suffix=b',"logprobs":null,"finish_reason":null}]' + usage_null + b"}\n\n",
            usage_null=usage_null,
        )

    def chunk(self, delta: bytes) -> bytes:
        return self.prefix + delta + self.suffix


def stream_head(plan: ChatPlan, template: ChunkTemplate) -> bytes:
    """The first chunk: the assistant role, and the tool call's id and name if any."""
    call = plan.tool_call
    if call is None:
        return template.chunk(b'{"role":"assistant","content":"","refusal":null}')
    opening = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "index": 0,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
        ],
        "refusal": None,
    }
    return template.chunk(orjson.dumps(opening))


def stream_pieces(plan: ChatPlan, template: ChunkTemplate) -> Iterator[bytes]:
    """One chunk per text piece or arguments fragment; repeated pieces are rendered once."""
    if plan.tool_call is None:
        opening, closing = b'{"content":', b"}"
    else:
        opening, closing = b'{"tool_calls":[{"index":0,"function":{"arguments":', b"}}]}"
    rendered: dict[str, bytes] = {}
    for piece in plan.pieces:
        chunk = rendered.get(piece)
        if chunk is None:
            chunk = rendered[piece] = template.chunk(opening + orjson.dumps(piece) + closing)
        yield chunk


def stream_tail(plan: ChatPlan, template: ChunkTemplate) -> bytes:
    """The finish_reason chunk, the usage chunk when asked for, and `[DONE]`."""
    finish = (
        b'data: {%s,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":%s}]%s}\n\n'
    )
    tail = finish % (template.fields, orjson.dumps(plan.finish_reason), template.usage_null)
    if plan.include_usage:
        usage = orjson.dumps(usage_object(plan))
        tail += b'data: {%s,"choices":[],"usage":%s}\n\n' % (template.fields, usage)
    return tail + DONE_EVENT
