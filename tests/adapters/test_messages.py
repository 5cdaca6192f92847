"""Chat ⇄ Anthropic Messages conversion: examples, then round-trip properties."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.messages import chat_to_messages, messages_to_chat
from tests.adapters.helpers import WEATHER_TOOL

PNG = "iVBORw0KGgo="


def test_system_images_tools_and_results() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use metric."}]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "What is this?",
                        "cache_control": {"type": "ephemeral"},
                    },
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://img.test/a.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "x"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "two"}]},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "stop": ["\n\n", "END"],
        "max_completion_tokens": 99,
        "user": "u-1",
        "temperature": 0.5,
        "n": 1,
        "stream_options": {"include_usage": True},
    }
    sent = chat_to_messages(body)
    assert sent["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use metric."},
    ]
    user, assistant, results = sent["messages"]
    assert user["content"] == [
        {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://img.test/a.jpg"}},
    ]
    assert assistant["content"] == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {}},
        {"type": "tool_use", "id": "c2", "name": "g", "input": {}},
    ]
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": "one"},
            {
                "type": "tool_result",
                "tool_use_id": "c2",
                "content": [{"type": "text", "text": "two"}],
            },
            {"type": "text", "text": "Thanks"},
        ],
    }
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
            "description": "The weather in a city.",
        }
    ]
    assert sent["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }
    assert sent["stop_sequences"] == ["\n\n", "END"]
    assert sent["max_tokens"] == 99
    assert sent["metadata"] == {"user_id": "u-1"}
    assert sent["temperature"] == 0.5
    assert "n" not in sent
    assert "stream_options" not in sent
    assert "user" not in sent


def test_reasoning_effort_becomes_a_thinking_budget_below_max_tokens() -> None:
    sent = chat_to_messages({"messages": [], "reasoning_effort": "medium", "max_tokens": 100})
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert sent["max_tokens"] > 8192


def test_messages_request_to_chat() -> None:
    body = {
        "model": "claude",
        "system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
        "max_tokens": 50,
        "stream": True,
        "stop_sequences": ["X"],
        "metadata": {"user_id": "u"},
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": "done",
                        "is_error": True,
                    },
                    {"type": "text", "text": "ok?"},
                ],
            },
        ],
        "tools": [
            {"name": "f", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    }
    chat = messages_to_chat(body)
    assert chat["messages"] == [
        {"role": "system", "content": "A\nB"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "hm",
            "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "Error: done"},
        {"role": "user", "content": [{"type": "text", "text": "ok?"}]},
    ]
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    ]
    assert chat["tool_choice"] == "required"
    assert chat["parallel_tool_calls"] is False
    assert chat["stream_options"] == {"include_usage": True}
    assert (chat["stop"], chat["user"], chat["max_tokens"]) == (["X"], "u", 50)


# --- properties ---------------------------------------------------------------------------

texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
texts = texts.filter(str.strip)  # Anthropic refuses whitespace-only text
names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)
arguments = st.dictionaries(names, json_values, max_size=3)


@st.composite
def chat_conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """System first, then user / assistant (with its tool results) turns alternating."""
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(texts)})
    ids = iter(range(10_000))
    for _ in range(draw(st.integers(1, 4))):
        parts = draw(st.lists(texts, min_size=1, max_size=3))
        content: Any = parts[0] if len(parts) == 1 else [{"type": "text", "text": t} for t in parts]
        messages.append({"role": "user", "content": content})
        calls = [
            {
                "id": f"call_{next(ids)}",
                "type": "function",
                "function": {
                    "name": draw(names),
                    "arguments": orjson.dumps(draw(arguments)).decode(),
                },
            }
            for _ in range(draw(st.integers(0, 2)))
        ]
        assistant: dict[str, Any] = {"role": "assistant", "content": draw(st.none() | texts)}
        if calls:
            assistant["tool_calls"] = calls
        messages.append(assistant)
        for call in calls:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": draw(texts)})
    return messages


def chat_atoms(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What must survive a round trip: roles, texts, tool calls and results, in order."""
    atoms: list[tuple[Any, ...]] = []
    for message in messages:
        role, content = message["role"], message.get("content")
        if role == "tool":
            atoms.append(("tool", message["tool_call_id"], content))
            continue
        pieces = [content] if isinstance(content, str) else [p["text"] for p in content or ()]
        atoms.extend((role, "text", piece) for piece in pieces if piece)
        for call in message.get("tool_calls") or ():
            function = call["function"]
            parsed = orjson.loads(function["arguments"])
            atoms.append((role, "call", call["id"], function["name"], parsed))
    return atoms


@settings(max_examples=80, deadline=None)
@given(chat_conversations(), st.integers(1, 8192), st.lists(texts, max_size=2))
def test_chat_round_trip_keeps_roles_texts_and_tool_calls(
    messages: list[dict[str, Any]], max_tokens: int, stop: list[str]
) -> None:
    body: dict[str, Any] = {"model": "m", "messages": messages, "max_tokens": max_tokens}
    if stop:
        body["stop"] = stop
    body["tools"] = [WEATHER_TOOL]
    body["tool_choice"] = "auto"
    back = messages_to_chat(chat_to_messages(body))
    assert chat_atoms(back["messages"]) == chat_atoms(messages)
    assert back["max_tokens"] == max_tokens
    assert back.get("stop") == (stop or None)
    assert back["tools"] == [WEATHER_TOOL]
    assert back["tool_choice"] == "auto"


@st.composite
def anthropic_conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Alternating turns; a user turn answers the previous turn's tool uses first."""
    turns: list[dict[str, Any]] = []
    pending: list[str] = []
    ids = iter(range(10_000))
    for _ in range(draw(st.integers(1, 3))):
        user: list[dict[str, Any]] = [
            {"type": "tool_result", "tool_use_id": use, "content": draw(texts)} for use in pending
        ]
        user += [{"type": "text", "text": t} for t in draw(st.lists(texts, min_size=1, max_size=2))]
        turns.append({"role": "user", "content": user})
        assistant: list[dict[str, Any]] = []
        if draw(st.booleans()):
            assistant.append({"type": "text", "text": draw(texts)})
        pending = [f"toolu_{next(ids)}" for _ in range(draw(st.integers(0 if assistant else 1, 2)))]
        assistant += [
            {"type": "tool_use", "id": use, "name": draw(names), "input": draw(arguments)}
            for use in pending
        ]
        turns.append({"role": "assistant", "content": assistant})
    return turns


@settings(max_examples=80, deadline=None)
@given(anthropic_conversations(), st.none() | texts)
def test_messages_round_trip_keeps_blocks(turns: list[dict[str, Any]], system: str | None) -> None:
    body: dict[str, Any] = {"model": "c", "messages": turns, "max_tokens": 64}
    if system:
        body["system"] = system
    back = chat_to_messages(messages_to_chat(body))
    assert back["messages"] == turns
    assert back.get("system") == ([{"type": "text", "text": system}] if system else None)


def test_pdf_files_become_documents_and_back() -> None:
    pdf = "data:application/pdf;base64,JVBERi0x"
    body = {"messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "a.pdf", "file_data": pdf}},
        {"type": "text", "text": "Summarise."},
    ]}]}  # fmt: skip
    [turn] = chat_to_messages(body)["messages"]
    assert turn["content"][0] == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
    }
    [user] = messages_to_chat({"messages": [turn]})["messages"]
    assert user["content"][0] == {"type": "file", "file": {"file_data": pdf}}
