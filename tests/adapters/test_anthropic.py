from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from adapters import chat_adapter
from adapters.anthropic import AnthropicAdapter, AnthropicStreamMeter, anthropic_usage
from adapters.base import Channel, ChatResult, Usage
from adapters.errors import (
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamServerError,
)
from tests.adapters.helpers import (
    WEATHER_TOOL,
    exchange,
    feed_bytewise,
    feed_in_pieces,
    message_of,
    read_stream,
)
from tests.fakes.anthropic_upstream import API_KEY, FakeAnthropic
from tests.fakes.vendor import PROMPT_TOKENS, REASONING, TEXT

ADAPTER = AnthropicAdapter()

# Recorded from Anthropic (thinking, text, a tool call with input_json_delta, a ping).
RECORDED = (Path(__file__).parents[1] / "fakes" / "recorded" / "anthropic_stream.sse").read_bytes()


def channel(url: str = "https://api.anthropic.com", **fields: Any) -> Channel:
    values: dict[str, Any] = {"code": "ch-a", "protocol": "anthropic", "url": url}
    values.update(fields)
    return Channel(**values)


def test_registered_as_anthropic() -> None:
    assert isinstance(chat_adapter("anthropic"), AnthropicAdapter)


def test_request_url_headers_and_body() -> None:
    ch = channel(
        deploy_name="claude-sonnet-4-5",
        credentials={"api_key": "sk-ant-1"},
        options={"anthropic_beta": "prompt-caching-2024-07-31", "headers": {"X-Team": "a"}},
    )
    body = {"model": "claude", "messages": [{"role": "user", "content": "Hi"}], "stop": "END"}
    request = ADAPTER.chat_request(ch, body, {})
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers == {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant-1",
        "anthropic-beta": "prompt-caching-2024-07-31",
        "X-Team": "a",
    }
    assert orjson.loads(request.body) == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 4096,
        "stop_sequences": ["END"],
    }
    proxied = ADAPTER.chat_request(channel(url="https://proxy.test/v1"), body, {})
    assert proxied.url == "https://proxy.test/v1/messages"


def test_channel_max_tokens_and_drop_fields() -> None:
    ch = channel(options={"max_tokens": 1000, "drop_fields": ["temperature", "top_k"]})
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "temperature": 2}
    sent = orjson.loads(ADAPTER.chat_request(ch, {**body, "top_k": 3}, {}).body)
    assert sent["max_tokens"] == 1000
    assert "temperature" not in sent
    assert "top_k" not in sent


def test_result_with_thinking_text_and_tool_use() -> None:
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "s"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7},
    }
    result = ADAPTER.chat_result(200, {}, orjson.dumps(answer))
    message = message_of(result)
    assert message["content"] == "Checking."
    assert message["reasoning_content"] == "Hmm."
    assert message["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
        }
    ]
    assert result.finish_reason == "tool_calls"
    assert result.usage == Usage(prompt_tokens=15, completion_tokens=7, cached_tokens=5)
    assert orjson.loads(result.body)["usage"]["prompt_tokens_details"] == {"cached_tokens": 5}


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop"),
     ("refusal", "content_filter")],
)  # fmt: skip
def test_stop_reasons(reason: str, expected: str) -> None:
    answer = {"type": "message", "content": [{"type": "text", "text": "x"}], "stop_reason": reason}
    assert ADAPTER.chat_result(200, {}, orjson.dumps(answer)).finish_reason == expected


def test_usage_counts_cache_writes_and_reads_in_the_prompt() -> None:
    usage = {"input_tokens": 3, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 50}
    assert anthropic_usage({**usage, "output_tokens": 4}) == Usage(73, 4, 50)
    assert anthropic_usage(None) is None


def test_recorded_stream_becomes_openai_chunks() -> None:
    meter = ADAPTER.chat_stream({"model": "c", "stream_options": {"include_usage": True}})
    answer = read_stream(meter.feed(RECORDED) + meter.close())
    assert answer.reasoning == "Let me think."
    assert answer.content == "Bonjour à tous"
    assert answer.calls == [{"id": "toolu_01A", "name": "get_weather", "args": '{"city": "Paris"}'}]
    assert answer.finish_reason == "tool_calls" == meter.finish_reason
    assert answer.done
    assert meter.done
    assert meter.usage == Usage(prompt_tokens=125, completion_tokens=42, cached_tokens=100)
    assert answer.usage is not None
    assert answer.usage["prompt_tokens"] == 125


def test_stream_split_at_every_byte_gives_the_same_answer() -> None:
    whole = read_stream(AnthropicStreamMeter({}).feed(RECORDED))
    assert read_stream(feed_bytewise(AnthropicStreamMeter({}), RECORDED)) == whole
    cuts = [7, 100, 101, 555, 556, 1200, len(RECORDED) - 3]
    assert read_stream(feed_in_pieces(AnthropicStreamMeter({}), RECORDED, cuts)) == whole
    assert whole.usage is None, "usage chunk only for clients that ask for it"


def test_nothing_is_forwarded_before_message_start_and_ping_alone_is_silent() -> None:
    meter = AnthropicStreamMeter({})
    assert meter.feed(b'event: ping\ndata: {"type": "ping"}\n\n') == b""


def test_error_event_raises_after_the_bytes_before_it() -> None:
    head = RECORDED.split(b"event: content_block_stop")[0]
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    error = b"event: error\ndata: " + orjson.dumps(overloaded) + b"\n\n"
    meter = AnthropicStreamMeter({})
    out = meter.feed(head + error)
    assert read_stream(out).reasoning == "Let me think."
    with pytest.raises(UpstreamServerError, match="Overloaded"):
        meter.feed(b"")
    meter = AnthropicStreamMeter({})
    with pytest.raises(UpstreamRateLimited):
        meter.feed(b'data: {"type":"error","error":{"type":"rate_limit_error","message":"x"}}\n\n')


@pytest.mark.parametrize(
    ("status", "kind", "error"),
    [
        (400, "invalid_request_error", UpstreamBadRequest),
        (401, "authentication_error", UpstreamServerError),
        (429, "rate_limit_error", UpstreamRateLimited),
        (500, "api_error", UpstreamServerError),
        (529, "overloaded_error", UpstreamServerError),
    ],
)
def test_http_errors_map_to_the_tree(status: int, kind: str, error: type[Exception]) -> None:
    body = orjson.dumps({"type": "error", "error": {"type": kind, "message": "nope"}})
    with pytest.raises(error) as caught:
        ADAPTER.chat_result(status, {"retry-after": "7"}, body)
    if isinstance(caught.value, UpstreamRateLimited):
        assert caught.value.retry_after == 7
    assert isinstance(caught.value, UpstreamBadRequest) == (status == 400)


# --- against the fake Anthropic -----------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    server = FakeAnthropic()
    await server.start()
    yield server
    await server.close()


def fake_channel(fake: FakeAnthropic, **fields: Any) -> Channel:
    return channel(fake.url, credentials={"api_key": API_KEY}, deploy_name="claude-up", **fields)


CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "toolu_9",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "toolu_9", "content": "21 degrees"},
]


async def test_fake_non_stream_and_stream(fake: FakeAnthropic) -> None:
    body = {"model": "claude", "messages": [{"role": "user", "content": "Hi"}]}
    result = await exchange(ADAPTER, fake_channel(fake), body)
    assert isinstance(result, ChatResult)
    assert message_of(result)["content"] == TEXT
    assert result.usage == Usage(PROMPT_TOKENS, 9, 3)
    out = await exchange(ADAPTER, fake_channel(fake), {**body, "stream": True})
    assert isinstance(out, bytes)
    assert read_stream(out).content == TEXT
    assert fake.requests[-1]["model"] == "claude-up"


async def test_fake_tools_multi_turn_and_thinking(fake: FakeAnthropic) -> None:
    body = {"model": "c", "messages": CONVERSATION[:2], "tools": [WEATHER_TOOL], "stream": True}
    out = await exchange(ADAPTER, fake_channel(fake), {**body, "tool_choice": "required"})
    assert isinstance(out, bytes)
    assert read_stream(out).calls == [
        {"id": "toolu_fake01", "name": "get_weather", "args": '{"city":"mock"}'}
    ]
    assert fake.requests[-1]["tool_choice"] == {"type": "any"}
    body = {"model": "c", "messages": CONVERSATION, "tools": [WEATHER_TOOL]}
    result = await exchange(ADAPTER, fake_channel(fake), {**body, "reasoning_effort": "low"})
    assert isinstance(result, ChatResult)
    message = message_of(result)
    assert (message["content"], message["reasoning_content"]) == (TEXT, REASONING)
    sent = fake.requests[-1]
    assert sent["system"] == [{"type": "text", "text": "Be brief."}]
    assert sent["messages"][-1]["content"][0]["tool_use_id"] == "toolu_9"


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, UpstreamRateLimited), (529, UpstreamServerError), (400, UpstreamBadRequest)],
)
async def test_fake_errors(fake: FakeAnthropic, status: int, error: type[Exception]) -> None:
    fake.fail_with, fake.retry_after = status, "3"
    body = {"model": "c", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    with pytest.raises(error):
        await exchange(ADAPTER, fake_channel(fake), body)


async def test_fake_rejects_a_bad_key_as_a_channel_fault(fake: FakeAnthropic) -> None:
    ch = channel(fake.url, credentials={"api_key": "wrong"})
    with pytest.raises(UpstreamServerError, match="credentials") as caught:
        await exchange(ADAPTER, ch, {"model": "c", "messages": [{"role": "user", "content": "x"}]})
    assert caught.value.retryable
