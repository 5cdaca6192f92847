from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from adapters import chat_adapter
from adapters.base import Channel, ChatResult, Usage
from adapters.errors import UpstreamBadRequest, UpstreamRateLimited, UpstreamServerError
from adapters.gemini import GeminiAdapter, GeminiStreamMeter, generate_url
from adapters.gemini_request import SIGNATURE_MARK, chat_to_gemini, clean_schema
from tests.adapters.helpers import (
    WEATHER_TOOL,
    exchange,
    feed_bytewise,
    message_of,
    read_stream,
)
from tests.fakes.gemini_upstream import API_KEY, FakeGemini
from tests.fakes.vendor import PROMPT_TOKENS, REASONING, TEXT

ADAPTER = GeminiAdapter()

# As Gemini streams it: CRLF-separated events, thoughts first, usage in the last event.
RECORDED = (
    b'data: {"candidates": [{"content": {"parts": [{"text": "Considering.","thought": true}],'
    b'"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},'
    b'"modelVersion": "gemini-2.5-flash","responseId": "r1"}\r\n\r\n'
    b'data: {"candidates": [{"content": {"parts": [{"text": "Hello"}],"role": "model"},'
    b'"index": 0}],"modelVersion": "gemini-2.5-flash","responseId": "r1"}\r\n\r\n'
    b'data: {"candidates": [{"content": {"parts": [{"text": " world"}],"role": "model"},'
    b'"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 8,'
    b'"candidatesTokenCount": 2,"thoughtsTokenCount": 5,"cachedContentTokenCount": 4,'
    b'"totalTokenCount": 15},"modelVersion": "gemini-2.5-flash","responseId": "r1"}\r\n\r\n'
)


def channel(url: str = "https://generativelanguage.googleapis.com", **fields: Any) -> Channel:
    values: dict[str, Any] = {"code": "ch-g", "protocol": "gemini", "url": url}
    values.update(fields)
    return Channel(**values)


def test_registered_as_gemini() -> None:
    assert isinstance(chat_adapter("gemini"), GeminiAdapter)


def test_urls_and_key_header() -> None:
    ch = channel(deploy_name="gemini-2.5-pro", credentials={"api_key": "k"})
    request = ADAPTER.chat_request(ch, {"model": "g", "messages": [], "stream": True}, {})
    assert request.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro"
        ":streamGenerateContent?alt=sse"
    )
    assert request.headers["x-goog-api-key"] == "k"
    assert "Authorization" not in request.headers
    assert generate_url(channel("https://g.test/v1"), "models/m", stream=False) == (
        "https://g.test/v1/models/m:generateContent"
    )


def test_conversation_tools_and_config() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "image_url", "image_url": {"url": "https://img.test/x.png"}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1" + SIGNATURE_MARK + "c2ln", "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
            {"role": "tool", "tool_call_id": "call_1" + SIGNATURE_MARK + "c2ln",
             "content": '{"temp": 20}'},
            {"role": "tool", "tool_call_id": "unknown", "name": "other", "content": "plain"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_completion_tokens": 77, "temperature": 0.3, "stop": "END",
        "response_format": {"type": "json_object"}, "reasoning_effort": "low",
    }  # fmt: skip
    sent = chat_to_gemini(body)
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    user, model, results = sent["contents"]
    assert user["parts"] == [
        {"text": "Weather?"},
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://img.test/x.png"}},
    ]
    assert model == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}},
             "thoughtSignature": "c2ln"}
        ],
    }  # fmt: skip
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 20}}},
            {"functionResponse": {"name": "other", "response": {"result": "plain"}}},
        ],
    }
    declaration = sent["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "get_weather"
    assert sent["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    assert sent["generationConfig"] == {
        "temperature": 0.3,
        "maxOutputTokens": 77,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
    }


def test_schema_cleaning_keeps_property_names() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {"strict": {"type": ["string", "null"]}, "n": {"type": "integer"}},
    }
    assert clean_schema(schema) == {
        "type": "object",
        "properties": {"strict": {"type": "string", "nullable": True}, "n": {"type": "integer"}},
    }


def test_result_with_thoughts_calls_and_usage() -> None:
    answer = {
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Hm.", "thought": True},
                {"text": "Sure."},
                {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "s"},
            ]},
            "finishReason": "STOP",
        }],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 3,
                          "thoughtsTokenCount": 4, "cachedContentTokenCount": 6},
        "modelVersion": "gemini-x",
    }  # fmt: skip
    result = ADAPTER.chat_result(200, {}, orjson.dumps(answer))
    message = message_of(result)
    assert (message["content"], message["reasoning_content"]) == ("Sure.", "Hm.")
    [call] = message["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["id"].endswith(SIGNATURE_MARK + "s")
    assert call["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert result.finish_reason == "tool_calls"
    assert result.usage == Usage(prompt_tokens=10, completion_tokens=7, cached_tokens=6)


def test_blocked_prompt_and_safety_finish() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {}}
    assert ADAPTER.chat_result(200, {}, orjson.dumps(blocked)).finish_reason == "content_filter"
    safety = {"candidates": [{"finishReason": "SAFETY"}]}
    assert ADAPTER.chat_result(200, {}, orjson.dumps(safety)).finish_reason == "content_filter"


def test_recorded_stream_split_anywhere() -> None:
    meter = GeminiStreamMeter({"model": "g", "stream_options": {"include_usage": True}})
    answer = read_stream(feed_bytewise(meter, RECORDED))
    assert (answer.reasoning, answer.content) == ("Considering.", "Hello world")
    assert answer.finish_reason == "stop"
    assert answer.done
    assert meter.done
    assert meter.usage == Usage(prompt_tokens=8, completion_tokens=7, cached_tokens=4)
    assert answer.usage is not None
    assert answer.usage["completion_tokens"] == 7


def test_stream_without_finish_reason_is_not_done() -> None:
    meter = GeminiStreamMeter({})
    out = meter.feed(RECORDED.split(b"\r\n\r\n")[0] + b"\r\n\r\n") + meter.close()
    assert read_stream(out).reasoning == "Considering."
    assert not meter.done


@pytest.mark.parametrize(
    ("status", "details", "error"),
    [
        (400, [{"reason": "API_KEY_INVALID"}], UpstreamServerError),
        (400, [], UpstreamBadRequest),
        (403, [], UpstreamServerError),
        (429, [{"retryDelay": "12s"}], UpstreamRateLimited),
        (503, [], UpstreamServerError),
    ],
)
def test_errors(status: int, details: list[dict[str, Any]], error: type[Exception]) -> None:
    body = orjson.dumps({"error": {"code": status, "message": "m", "details": details}})
    with pytest.raises(error) as caught:
        ADAPTER.chat_result(status, {}, body)
    if isinstance(caught.value, UpstreamRateLimited):
        assert caught.value.retry_after == 12


def test_error_event_inside_a_stream() -> None:
    meter = GeminiStreamMeter({})
    with pytest.raises(UpstreamServerError):
        meter.feed(b'data: {"error": {"code": 500, "message": "Internal error"}}\r\n\r\n')


# --- against the fake Gemini --------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeGemini]:
    server = FakeGemini()
    await server.start()
    yield server
    await server.close()


def fake_channel(fake: FakeGemini, key: str = API_KEY) -> Channel:
    return channel(fake.url, credentials={"api_key": key}, deploy_name="gemini-fake")


async def test_fake_text_stream_and_non_stream(fake: FakeGemini) -> None:
    body = {"model": "g", "messages": [{"role": "user", "content": "Hi"}]}
    result = await exchange(ADAPTER, fake_channel(fake), {**body, "reasoning_effort": "high"})
    assert isinstance(result, ChatResult)
    message = message_of(result)
    assert (message["content"], message["reasoning_content"]) == (TEXT, REASONING)
    assert result.usage == Usage(PROMPT_TOKENS, 9, 3)
    out = await exchange(ADAPTER, fake_channel(fake), {**body, "stream": True})
    assert isinstance(out, bytes)
    assert read_stream(out).content == TEXT
    assert fake.paths[-1] == "/v1beta/models/gemini-fake:streamGenerateContent?alt=sse"


async def test_fake_tool_call_round_trip_with_signature(fake: FakeGemini) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Rome?"}]
    tool = {**WEATHER_TOOL}
    tool["function"] = {**WEATHER_TOOL["function"], "parameters": {
        **WEATHER_TOOL["function"]["parameters"], "additionalProperties": False}}  # fmt: skip
    body = {"model": "g", "messages": messages, "tools": [tool], "stream": True}
    out = await exchange(ADAPTER, fake_channel(fake), body)
    assert isinstance(out, bytes)
    answer = read_stream(out)
    [call] = answer.calls
    assert (call["name"], call["args"], answer.finish_reason) == (
        "get_weather", '{"city":"mock"}', "tool_calls")  # fmt: skip
    function = {"name": call["name"], "arguments": call["args"]}
    messages += [
        {"role": "assistant", "tool_calls": [{"id": call["id"], "type": "function",
                                              "function": function}]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
    ]  # fmt: skip
    result = await exchange(ADAPTER, fake_channel(fake), {**body, "stream": False})
    assert isinstance(result, ChatResult)
    assert message_of(result)["content"] == TEXT
    assert fake.requests[-1]["contents"][1]["parts"][0]["thoughtSignature"] == "c2lnbmF0dXJl"


async def test_fake_errors(fake: FakeGemini) -> None:
    body = {"model": "g", "messages": [{"role": "user", "content": "Hi"}]}
    with pytest.raises(UpstreamServerError, match="credentials"):
        await exchange(ADAPTER, fake_channel(fake, key="bad"), body)
    fake.fail_with, fake.retry_after = 429, "30"
    with pytest.raises(UpstreamRateLimited) as caught:
        await exchange(ADAPTER, fake_channel(fake), body)
    assert caught.value.retry_after == 30
    fake.fail_with = 503
    with pytest.raises(UpstreamServerError):
        await exchange(ADAPTER, fake_channel(fake), {**body, "stream": True})
