"""Function-call emulation: the prompt it writes, and how it reads replies (via the mock)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from adapters import chat_adapter_for
from adapters.base import Channel, ChatResult
from adapters.fc_prompt import emulated_body, needs_emulation, render_history, tool_prompt
from adapters.fc_simulate import CallScanner, FunctionCallAdapter, parse_call
from adapters.mock import serve_chat
from adapters.openai import OpenAIStreamMeter
from adapters.rewrite import RewritingMeter
from tests.adapters.helpers import WEATHER_TOOL, feed_bytewise, message_of, read_stream

CALL = '<tool_call> {"name": "get_weather", "arguments": {"city": "Paris"}} </tool_call>'
NAMES = frozenset({"get_weather"})
MOCK = Channel(
    code="ch-m", protocol="mock", url="mock://", options={"function_call_simulate": True}
)
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {
        "role": "assistant",
        "content": "Checking both.",
        "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "c2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "18C"},
    {"role": "tool", "tool_call_id": "c2", "content": "25C"},
]  # fmt: skip


def test_prompt_lists_tools_and_the_format() -> None:
    prompt = tool_prompt({"tools": [WEATHER_TOOL]})
    assert "- get_weather: The weather in a city." in prompt
    assert '"required":["city"]' in prompt
    assert "<tool_call>" in prompt
    assert "answer normally" in prompt
    required = tool_prompt({"tools": [WEATHER_TOOL], "tool_choice": "required"})
    assert "You must call at least one tool" in required
    named = {"type": "function", "function": {"name": "get_weather"}}
    assert "call the tool get_weather" in tool_prompt(
        {"tools": [WEATHER_TOOL], "tool_choice": named}
    )
    assert tool_prompt({"tools": [WEATHER_TOOL], "tool_choice": "none"}) == ""


def test_history_becomes_text_turns() -> None:
    body = {"model": "m", "messages": CONVERSATION, "tools": [WEATHER_TOOL], "tool_choice": "auto"}
    assert needs_emulation(body)
    sent = emulated_body(body)
    assert "tools" not in sent
    assert "tool_choice" not in sent
    system, user, assistant, results = sent["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith("You are terse.\n\nYou can call tools.")
    assert user == CONVERSATION[1]
    assert assistant == {
        "role": "assistant",
        "content": "Checking both.\n<tool_call>\n"
        '{"name":"get_weather","arguments":{"city":"Paris"}}\n</tool_call>\n<tool_call>\n'
        '{"name":"get_weather","arguments":{"city":"Rome"}}\n</tool_call>',
    }
    assert results == {
        "role": "user",
        "content": '<tool_result id="c1" name="get_weather">\n18C\n</tool_result>\n'
        '<tool_result id="c2" name="get_weather">\n25C\n</tool_result>',
    }
    assert not needs_emulation({"messages": [{"role": "user", "content": "hi"}]})
    assert render_history(None) == []


@pytest.mark.parametrize(
    "block",
    [
        "not json",
        '{"name": "get_weather"}',  # arguments default to {} — valid
        '{"name": "rm_rf", "arguments": {}}',
        '{"name": "get_weather", "arguments": [1]}',
        '{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}',
    ],
)
def test_parse_call(block: str) -> None:
    call = parse_call(block, NAMES)
    if block.startswith('{"name": "get_weather"}'):
        assert call is not None
        assert call.arguments == "{}"
    elif "Oslo" in block:
        assert call is not None
        assert call.arguments == '{"city":"Oslo"}'
    else:
        assert call is None


def openai_stream(pieces: list[str]) -> bytes:
    head = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":'
    events = [
        f'{head}[{{"index":0,"delta":{{"role":"assistant","content":""}},"finish_reason":null}}]}}'
    ]
    for piece in pieces:
        delta = orjson.dumps({"content": piece}).decode()
        events.append(f'{head}[{{"index":0,"delta":{delta},"finish_reason":null}}]}}')
    events.append(f'{head}[{{"index":0,"delta":{{}},"finish_reason":"stop"}}]}}')
    return "".join(f"data: {e}\n\n" for e in events).encode() + b"data: [DONE]\n\n"


def scanned(pieces: list[str], *, bytewise: bool = False) -> tuple[Any, RewritingMeter]:
    meter = RewritingMeter(OpenAIStreamMeter(hide_usage_chunk=True), CallScanner(NAMES))
    data = openai_stream(pieces)
    out = feed_bytewise(meter, data) if bytewise else meter.feed(data) + meter.close()
    return read_stream(out), meter


def test_stream_call_after_text_split_anywhere() -> None:
    pieces = ["Let me check.", "\n<tool", "_call>\n", '{"name": "get_weather", ', '"arguments": ']
    pieces += ['{"city": "Paris"}}', "\n</tool_call>", "\n"]
    answer, meter = scanned(pieces, bytewise=True)
    assert answer.content == "Let me check."
    [call] = answer.calls
    assert (call["name"], call["args"]) == ("get_weather", '{"city":"Paris"}')
    assert answer.finish_reason == "tool_calls" == meter.finish_reason
    assert meter.done


def test_two_calls_and_plain_text_streams_at_once() -> None:
    answer, _ = scanned([CALL + "\n", CALL.replace("Paris", "Rome")])
    assert [c["args"] for c in answer.calls] == ['{"city":"Paris"}', '{"city":"Rome"}']
    meter = RewritingMeter(OpenAIStreamMeter(hide_usage_chunk=True), CallScanner(NAMES))
    role, piece, *_ = openai_stream(["Hello there, friend", "!"]).split(b"\n\n")
    first = meter.feed(role + b"\n\n" + piece + b"\n\n")
    assert read_stream(first).content == "Hello there, friend", "plain text is not held back"


@pytest.mark.parametrize(
    ("pieces", "content"),
    [
        (["<tool_call> not json </tool_call>"], "<tool_call> not json </tool_call>"),
        (['<tool_call> {"name": "nope", "arguments": {}} </tool_call>'],
         '<tool_call> {"name": "nope", "arguments": {}} </tool_call>'),
        (["Sure: <tool_call> {\"name\": \"get_w"], 'Sure:<tool_call> {"name": "get_w'),
        (["a < b, and <tool_c", "at>"], "a < b, and <tool_cat>"),
    ],
)  # fmt: skip
def test_malformed_replies_degrade_to_content(pieces: list[str], content: str) -> None:
    answer, meter = scanned(pieces)
    assert answer.calls == []
    assert answer.content == content
    assert answer.finish_reason == "stop"
    assert meter.done


# --- through the mock upstream ------------------------------------------------------------


async def ask_mock(body: dict[str, Any], text: str) -> ChatResult | bytes:
    adapter = chat_adapter_for(MOCK)
    assert isinstance(adapter, FunctionCallAdapter)
    headers = {"X-Bella-Mock-Text": text, "X-Bella-Mock-Tokens": str(len(text.split()))}
    request = adapter.chat_request(MOCK, body, headers)
    sent = orjson.loads(request.body)
    assert "tools" not in sent
    assert sent["messages"][0]["role"] == "system"
    response = await serve_chat(request)
    data = b"".join([chunk async for chunk in response.body])
    if not request.stream:
        return adapter.chat_result(response.status, response.headers, data)
    meter = adapter.chat_stream(body)
    return meter.feed(data) + meter.close()


async def test_mock_non_stream_call_then_answer_after_results() -> None:
    body = {"model": "m", "messages": CONVERSATION[:2], "tools": [WEATHER_TOOL]}
    result = await ask_mock(body, "On it. " + CALL)
    assert isinstance(result, ChatResult)
    message = message_of(result)
    assert message["content"] == "On it."
    assert message["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert result.finish_reason == "tool_calls"
    assert orjson.loads(result.body)["choices"][0]["finish_reason"] == "tool_calls"
    final = await ask_mock({**body, "messages": CONVERSATION}, "Paris 18C, Rome 25C.")
    assert isinstance(final, ChatResult)
    assert message_of(final)["content"] == "Paris 18C, Rome 25C."
    assert final.finish_reason == "stop"


async def test_mock_stream_call_and_malformed() -> None:
    body = {"model": "m", "messages": CONVERSATION, "tools": [WEATHER_TOOL], "stream": True}
    out = await ask_mock(body, CALL)
    assert isinstance(out, bytes)
    answer = read_stream(out)
    assert answer.calls[0]["args"] == '{"city":"Paris"}'
    assert answer.finish_reason == "tool_calls"
    broken = await ask_mock(body, "<tool_call> {oops </tool_call>")
    assert isinstance(broken, bytes)
    answer = read_stream(broken)
    assert (answer.calls, answer.content) == ([], "<tool_call> {oops </tool_call>")


async def test_requests_without_tools_pass_untouched() -> None:
    adapter = chat_adapter_for(MOCK)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    request = adapter.chat_request(
        MOCK, body, {"X-Bella-Mock-Text": CALL, "X-Bella-Mock-Tokens": "7"}
    )
    assert orjson.loads(request.body)["messages"] == body["messages"]
    response = await serve_chat(request)
    data = b"".join([chunk async for chunk in response.body])
    result = adapter.chat_result(200, {}, data)
    assert message_of(result)["content"] == CALL, "no tools offered: text stays text"
