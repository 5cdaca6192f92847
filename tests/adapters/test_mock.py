from __future__ import annotations

from typing import Any

import orjson
import pytest

from adapters.base import Channel, UpstreamRequest, Usage
from adapters.errors import UpstreamRateLimited, UpstreamServerError
from adapters.mock import (
    DEFAULT_TOKENS,
    MockAdapter,
    MockResponse,
    MockSettings,
    mock_headers,
    parse_mock_settings,
    serve_chat,
)
from adapters.mock_chat import DEFAULT_TEXT, estimate_prompt_tokens, schema_arguments
from adapters.openai import OpenAIAdapter
from adapters.sse import SSESplitter, event_data

ADAPTER = MockAdapter()
MESSAGES = [{"role": "user", "content": "What is the weather like in Paris today?"}]  # 40 chars
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "detailed": {"type": "boolean"},
                "hours": {"type": "array", "items": {"type": "number"}},
                "where": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "note": {"type": ["null", "string"]}},
                    "required": ["lat", "note"],
                },
                "optional": {"type": "string"},
            },
            "required": ["city", "days", "unit", "detailed", "hours", "where"],
        },
    },
}
WEATHER_ARGS = {
    "city": "mock",
    "days": 1,
    "unit": "celsius",
    "detailed": True,
    "hours": [],
    "where": {"lat": 1, "note": "mock"},
}
CLOCK_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {}}}


class Sleeps:
    """A stand-in for asyncio.sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def request(body: dict[str, Any], headers: dict[str, str] | None = None) -> UpstreamRequest:
    ch = Channel(code="mock-1", protocol="mock", url="")
    return ADAPTER.chat_request(ch, body, headers or {})


async def serve(
    body: dict[str, Any], headers: dict[str, str] | None = None, sleeps: Sleeps | None = None
) -> tuple[MockResponse, bytes]:
    response = await serve_chat(request(body, headers), sleep=sleeps or Sleeps())
    return response, b"".join([data async for data in response.body])


def stream_payloads(data: bytes) -> list[Any]:
    splitter = SSESplitter()
    events = splitter.feed(data)
    assert splitter.flush() == b""
    assert all(event.startswith(b"data: ") and event.endswith(b"\n\n") for event in events)
    payloads = [event_data(event) for event in events]
    assert payloads[-1] == b"[DONE]"
    return [orjson.loads(payload) for payload in payloads[:-1] if payload is not None]


# --- settings -----------------------------------------------------------------------------


def test_settings_defaults() -> None:
    assert parse_mock_settings({}) == MockSettings()
    assert MockSettings().tokens == DEFAULT_TOKENS


def test_settings_from_headers_in_any_case() -> None:
    headers = {
        "x-bella-mock-ttft-ms": "120",
        "X-BELLA-MOCK-INTERVAL-MS": "7.5",
        "X-Bella-Mock-Tokens": "3",
        "X-Bella-Mock-Text": "one two",
        "x-Bella-mock-status": "503",
        "Authorization": "Bearer ignored",
    }
    assert parse_mock_settings(headers) == MockSettings(
        ttft_ms=120.0, interval_ms=7.5, tokens=3, text="one two", status=503
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Bella-Mock-Tokens", "many"),
        ("X-Bella-Mock-Tokens", "-1"),
        ("X-Bella-Mock-Tokens", "10000000"),
        ("X-Bella-Mock-TTFT-Ms", "nan"),
        ("X-Bella-Mock-Status", "42"),
        ("X-Bella-Mock-Status", "700"),
        ("X-Bella-Mock-Text", ""),
    ],
)
def test_unusable_settings_fall_back_to_defaults(name: str, value: str) -> None:
    assert parse_mock_settings({name: value}) == MockSettings()


def test_client_headers_override_channel_options() -> None:
    options = {"ttft_ms": 100, "tokens": 5, "text": "from channel", "unrelated": True}
    client = {"x-bella-mock-tokens": "9", "X-Bella-Mock-Status": "429", "Accept": "x"}
    assert mock_headers(options, client) == {
        "X-Bella-Mock-TTFT-Ms": "100",
        "X-Bella-Mock-Tokens": "9",
        "X-Bella-Mock-Text": "from channel",
        "X-Bella-Mock-Status": "429",
    }


def test_adapter_request_matches_openai_body() -> None:
    ch = Channel(code="m", protocol="mock", url="", deploy_name="mock-v2", options={"tokens": 2})
    body = {"model": "mock-chat", "messages": MESSAGES, "stream": True}
    wire = ADAPTER.chat_request(ch, body, {"X-Bella-Mock-Interval-Ms": "5"})
    assert wire.url == "mock:chat"
    assert wire.stream is True
    assert wire.body == OpenAIAdapter().chat_request(ch, body, {}).body
    assert wire.headers == {"X-Bella-Mock-Tokens": "2", "X-Bella-Mock-Interval-Ms": "5"}


# --- non-stream ---------------------------------------------------------------------------


async def test_completion_shape_and_usage() -> None:
    response, data = await serve({"model": "mock-chat", "messages": MESSAGES})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    answer = orjson.loads(data)
    assert answer["id"].startswith("chatcmpl-")
    assert answer["object"] == "chat.completion"
    assert isinstance(answer["created"], int)
    assert answer["model"] == "mock-chat"
    [choice] = answer["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == " ".join(DEFAULT_TEXT.split()[:DEFAULT_TOKENS])
    assert answer["usage"]["prompt_tokens"] == 10
    assert answer["usage"]["completion_tokens"] == DEFAULT_TOKENS
    assert answer["usage"]["total_tokens"] == 10 + DEFAULT_TOKENS
    result = ADAPTER.chat_result(response.status, response.headers, data)
    assert result.usage == Usage(prompt_tokens=10, completion_tokens=DEFAULT_TOKENS)


async def test_text_header_is_repeated_to_the_token_count() -> None:
    headers = {"X-Bella-Mock-Text": "a  b\nc", "X-Bella-Mock-Tokens": "7"}
    _, data = await serve({"messages": MESSAGES}, headers)
    assert orjson.loads(data)["choices"][0]["message"]["content"] == "a b c a b c a"


async def test_text_header_is_truncated_and_max_tokens_ends_with_length() -> None:
    headers = {"X-Bella-Mock-Text": "one two three four", "X-Bella-Mock-Tokens": "3"}
    _, data = await serve({"messages": MESSAGES}, headers)
    assert orjson.loads(data)["choices"][0]["message"]["content"] == "one two three"
    _, data = await serve({"messages": MESSAGES, "max_tokens": 2}, headers)
    answer = orjson.loads(data)
    assert answer["choices"][0]["message"]["content"] == "one two"
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"]["completion_tokens"] == 2


def test_prompt_token_estimate() -> None:
    assert estimate_prompt_tokens([]) == 1
    assert estimate_prompt_tokens(None) == 1
    parts = [{"type": "text", "text": "x" * 30}, {"type": "image_url", "image_url": {}}]
    messages = [{"role": "system", "content": "y" * 10}, {"role": "user", "content": parts}]
    assert estimate_prompt_tokens(messages) == 10


async def test_non_stream_tool_call_from_schema() -> None:
    _, data = await serve(
        {
            "messages": MESSAGES,
            "tools": [CLOCK_TOOL, WEATHER_TOOL],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        }
    )
    choice = orjson.loads(data)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert orjson.loads(call["function"]["arguments"]) == WEATHER_ARGS


async def test_first_tool_is_called_by_default() -> None:
    _, data = await serve({"messages": MESSAGES, "tools": [CLOCK_TOOL, WEATHER_TOOL]})
    call = orjson.loads(data)["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "get_time", "arguments": "{}"}


@pytest.mark.parametrize(
    "body",
    [
        {"messages": MESSAGES, "tools": [WEATHER_TOOL], "tool_choice": "none"},
        {"messages": [*MESSAGES, {"role": "tool", "content": "22C"}], "tools": [WEATHER_TOOL]},
        {"messages": MESSAGES, "tools": []},
    ],
)
async def test_text_when_no_tool_call_is_due(body: dict[str, Any]) -> None:
    _, data = await serve(body)
    choice = orjson.loads(data)["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]


def test_schema_arguments_tolerates_odd_schemas() -> None:
    assert schema_arguments(None) == {}
    assert schema_arguments({"required": ["a"]}) == {}
    assert schema_arguments({"properties": {"a": {}}, "required": ["a", 3]}) == {"a": "mock"}


# --- stream -------------------------------------------------------------------------------


async def test_stream_is_valid_openai_chunks_in_order() -> None:
    body = {"model": "mock-chat", "messages": MESSAGES, "stream": True}
    response, data = await serve(
        body, {"X-Bella-Mock-Text": "hi there", "X-Bella-Mock-Tokens": "3"}
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    chunks = stream_payloads(data)
    assert {chunk["id"] for chunk in chunks} == {chunks[0]["id"]}
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk["model"] == "mock-chat" for chunk in chunks)
    head, *contents, finish, usage = chunks
    assert head["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert [c["choices"][0]["delta"] for c in contents] == [
        {"content": "hi"},
        {"content": " there"},
        {"content": " hi"},
    ]
    assert finish["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert usage["choices"] == []
    assert usage["usage"]["prompt_tokens"] == 10
    assert usage["usage"]["completion_tokens"] == 3


async def test_stream_without_include_usage_has_no_usage_chunk() -> None:
    body = {"messages": MESSAGES, "stream": True}
    ch = Channel(code="m", protocol="mock", url="", options={"include_usage": False})
    response = await serve_chat(ADAPTER.chat_request(ch, body, {}))
    chunks = stream_payloads(b"".join([data async for data in response.body]))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in chunk for chunk in chunks)


async def test_stream_through_the_meter_hides_the_usage_it_added() -> None:
    body = {"messages": MESSAGES, "stream": True}
    response = await serve_chat(request(body, {"X-Bella-Mock-Interval-Ms": "1"}), sleep=Sleeps())
    meter = ADAPTER.chat_stream(body)
    relayed = b"".join([meter.feed(data) async for data in response.body]) + meter.close()
    assert meter.usage == Usage(prompt_tokens=10, completion_tokens=DEFAULT_TOKENS)
    assert meter.done
    payloads = stream_payloads(relayed)
    assert all(chunk["choices"] for chunk in payloads)
    assert payloads[-1]["choices"][0]["finish_reason"] == "stop"


async def test_stream_tool_call() -> None:
    body = {"messages": MESSAGES, "stream": True, "tools": [WEATHER_TOOL]}
    _, data = await serve(body)
    head, *fragments, finish, usage = stream_payloads(data)
    [opening] = head["choices"][0]["delta"]["tool_calls"]
    assert opening["index"] == 0
    assert opening["id"].startswith("call_")
    assert opening["function"] == {"name": "get_weather", "arguments": ""}
    assert len(fragments) > 1
    calls = [fragment["choices"][0]["delta"]["tool_calls"] for fragment in fragments]
    assert all(call[0]["index"] == 0 and "id" not in call[0] for call in calls)
    arguments = "".join(call[0]["function"]["arguments"] for call in calls)
    assert orjson.loads(arguments) == WEATHER_ARGS
    assert finish["choices"][0]["finish_reason"] == "tool_calls"
    assert usage["usage"]["completion_tokens"] == len(fragments)


# --- status and timing --------------------------------------------------------------------


async def test_status_header_gives_an_openai_error() -> None:
    response, data = await serve({"messages": MESSAGES}, {"X-Bella-Mock-Status": "429"})
    assert response.status == 429
    assert response.headers["Retry-After"] == "1"
    assert orjson.loads(data)["error"]["type"] == "rate_limit_error"
    with pytest.raises(UpstreamRateLimited) as caught:
        ADAPTER.chat_result(response.status, response.headers, data)
    assert caught.value.retry_after == 1.0


async def test_status_header_server_error_even_for_streams() -> None:
    body = {"messages": MESSAGES, "stream": True}
    response, data = await serve(body, {"X-Bella-Mock-Status": "500"})
    assert response.status == 500
    assert "Retry-After" not in response.headers
    with pytest.raises(UpstreamServerError):
        ADAPTER.chat_result(response.status, response.headers, data)


async def test_bad_body_is_a_400() -> None:
    response = await serve_chat(UpstreamRequest("POST", "mock:chat", {}, b"[]"))
    assert response.status == 400


async def test_stream_sleeps_ttft_then_interval_between_tokens() -> None:
    sleeps = Sleeps()
    headers = {"X-Bella-Mock-TTFT-Ms": "250", "X-Bella-Mock-Interval-Ms": "20"}
    _, data = await serve({"messages": MESSAGES, "stream": True}, headers, sleeps)
    assert sleeps.delays == [0.25] + [0.02] * (DEFAULT_TOKENS - 1)
    assert len(stream_payloads(data)) == DEFAULT_TOKENS + 3


async def test_stream_pieces_are_yielded_one_by_one_when_paced() -> None:
    headers = {"X-Bella-Mock-Interval-Ms": "5", "X-Bella-Mock-Tokens": "3"}
    response = await serve_chat(request({"stream": True}, headers), sleep=Sleeps())
    parts = [data async for data in response.body]
    # role + first token, two more tokens, then finish + usage + [DONE]
    assert len(parts) == 4
    assert parts[-1].endswith(b"data: [DONE]\n\n")


async def test_non_stream_sleeps_the_whole_generation_time() -> None:
    sleeps = Sleeps()
    headers = {"X-Bella-Mock-TTFT-Ms": "100", "X-Bella-Mock-Interval-Ms": "10"}
    await serve({"messages": MESSAGES}, {**headers, "X-Bella-Mock-Tokens": "5"}, sleeps)
    assert sleeps.delays == [pytest.approx(0.14)]


async def test_no_sleep_by_default() -> None:
    sleeps = Sleeps()
    await serve({"messages": MESSAGES, "stream": True}, sleeps=sleeps)
    await serve({"messages": MESSAGES}, sleeps=sleeps)
    assert sleeps.delays == []


async def test_real_sleep_is_the_default() -> None:
    response = await serve_chat(request({"stream": True}, {"X-Bella-Mock-TTFT-Ms": "1"}))
    data = b"".join([part async for part in response.body])
    assert data.endswith(b"data: [DONE]\n\n")
