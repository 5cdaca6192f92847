"""POST /v1/messages end to end: the anthropic SDK → the gateway → an OpenAI-compatible
channel (converted), an Anthropic channel (native) and the mock (tools, emulated tools)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic import AsyncAnthropic
from anthropic.types import Message, MessageParam, ToolParam, ToolResultBlockParam

from tests.fakes.anthropic_upstream import API_KEY as ANTHROPIC_KEY
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import API_KEY, FakeOpenAI
from tests.fakes.vendor import PROMPT_TOKENS, TEXT
from tests.harness import Gateway, chat_catalog, chat_channel, gateway_settings, running_gateway

MESSAGES: list[MessageParam] = [{"role": "user", "content": "Weather in Paris?"}]
TOOL: ToolParam = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def client(gw: Gateway, key: str | None = None, **options: Any) -> AsyncAnthropic:
    return AsyncAnthropic(base_url=gw.url, api_key=key or gw.key, max_retries=0, **options)


@pytest.fixture
async def anthropic_fake() -> AsyncIterator[FakeAnthropic]:
    fake = FakeAnthropic()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def gateway(
    tmp_path: Path, upstream: FakeOpenAI, anthropic_fake: FakeAnthropic
) -> AsyncIterator[Gateway]:
    native = {
        "code": "ch-claude",
        "model": "claude-test",
        "protocol": "anthropic",
        "url": anthropic_fake.url,
        "credentials": {"api_key": ANTHROPIC_KEY},
        "deploy_name": "claude-upstream",
        "price": {"input": "1", "output": "2"},
    }
    mock = {
        "code": "ch-mock",
        "model": "mock-test",
        "protocol": "mock",
        "url": "mock://local",
        "price": {"input": "1", "output": "2"},
    }
    emulated = {**mock, "code": "ch-mock-fc", "model": "mock-fc"}
    emulated["options"] = {"function_call_simulate": True}
    catalog = chat_catalog(chat_channel(upstream.url, API_KEY, code="ch-openai"))
    catalog["models"] += [{"name": "claude-test"}, {"name": "mock-test"}, {"name": "mock-fc"}]
    catalog["channels"] += [native, mock, emulated]
    async with running_gateway(gateway_settings(tmp_path, "", catalog)) as gw:
        yield gw


async def test_openai_channel_non_stream_is_converted_and_billed_as_chat(
    gateway: Gateway, upstream: FakeOpenAI
) -> None:
    async with client(gateway) as sdk:
        raw = await sdk.messages.with_raw_response.create(
            model="gpt-test", max_tokens=100, system="Be brief.", messages=MESSAGES
        )
    message = await raw.parse()
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "fake answer"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (14, 5)
    assert raw.headers["x-bella-channel"] == "ch-openai"
    sent = upstream.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["max_tokens"] == 100
    [record] = await gateway.usage()
    assert (record.endpoint, record.status, record.prompt_tokens) == ("/v1/messages", 200, 14)
    assert record.cost == Decimal("0.024")  # 14/1000 x 1 + 5/1000 x 2, as chat bills it


async def test_openai_channel_stream_events(gateway: Gateway) -> None:
    async with (
        client(gateway) as sdk,
        sdk.messages.stream(model="gpt-test", max_tokens=50, messages=MESSAGES) as stream,
    ):
        texts = [text async for text in stream.text_stream]
        message = await stream.get_final_message()
    assert "".join(texts) == "tok0 tok1 tok2 tok3 tok4 "
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 5
    [record] = await gateway.usage()
    assert (record.status, record.completion_tokens, record.estimated) == (200, 5, False)


@pytest.mark.parametrize("stream", [False, True])
async def test_tools_through_a_chat_channel(gateway: Gateway, stream: bool) -> None:
    async with client(gateway) as sdk:
        message: Message
        if stream:
            async with sdk.messages.stream(
                model="mock-test", max_tokens=50, messages=MESSAGES, tools=[TOOL]
            ) as events:
                message = await events.get_final_message()
        else:
            message = await sdk.messages.create(
                model="mock-test", max_tokens=50, messages=MESSAGES, tools=[TOOL]
            )
        [use] = message.content
        assert use.type == "tool_use"
        assert (use.name, use.input) == ("get_weather", {"city": "mock"})
        assert message.stop_reason == "tool_use"
        result: ToolResultBlockParam = {
            "type": "tool_result",
            "tool_use_id": use.id,
            "content": "18C",
        }
        history: list[MessageParam] = [
            *MESSAGES,
            {"role": "assistant", "content": [use]},
            {"role": "user", "content": [result]},
        ]
        answer = await sdk.messages.create(
            model="mock-test",
            max_tokens=50,
            messages=history,
            tools=[TOOL],
            extra_headers={"X-Bella-Mock-Text": "It is 18C.", "X-Bella-Mock-Tokens": "3"},
        )
    assert answer.content[0].text == "It is 18C."  # type: ignore[union-attr]


async def test_emulated_tools_through_messages(gateway: Gateway) -> None:
    reply = '<tool_call> {"name": "get_weather", "arguments": {"city": "Paris"}} </tool_call>'
    async with client(gateway) as sdk:
        message = await sdk.messages.create(
            model="mock-fc",
            max_tokens=50,
            messages=MESSAGES,
            tools=[TOOL],
            extra_headers={"X-Bella-Mock-Text": reply, "X-Bella-Mock-Tokens": "7"},
        )
    [use] = message.content
    assert use.type == "tool_use"
    assert use.input == {"city": "Paris"}


async def test_anthropic_channel_is_native(gateway: Gateway, anthropic_fake: FakeAnthropic) -> None:
    async with client(gateway) as sdk:
        message = await sdk.messages.create(
            model="claude-test",
            max_tokens=64,
            messages=MESSAGES,
            extra_body={"top_k": 5},
            thinking={"type": "enabled", "budget_tokens": 32},
        )
        async with sdk.messages.stream(
            model="claude-test", max_tokens=64, messages=MESSAGES, tools=[TOOL]
        ) as events:
            streamed = await events.get_final_message()
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[1].text == TEXT  # type: ignore[union-attr]
    first = anthropic_fake.requests[0]
    assert first["model"] == "claude-upstream"
    assert first["top_k"] == 5
    assert first["messages"] == MESSAGES
    assert anthropic_fake.headers[0]["anthropic-version"] == "2023-06-01"
    [use] = streamed.content
    assert use.type == "tool_use"
    assert use.input == {"city": "mock"}
    records = await gateway.usage()
    assert [(r.status, r.channel_code) for r in records] == [(200, "ch-claude")] * 2
    assert records[0].prompt_tokens == PROMPT_TOKENS
    assert records[0].cached_tokens == 3


async def test_keys_as_x_api_key_or_bearer(gateway: Gateway) -> None:
    async with client(gateway, key="sk-wrong") as sdk:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await sdk.messages.create(model="gpt-test", max_tokens=5, messages=MESSAGES)
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "Incorrect API key provided."},
    }
    bearer = AsyncAnthropic(base_url=gateway.url, auth_token=gateway.key, max_retries=0)
    async with bearer as sdk:
        message = await sdk.messages.create(model="gpt-test", max_tokens=5, messages=MESSAGES)
    assert message.content
    async with client(gateway) as sdk:
        with pytest.raises(anthropic.NotFoundError):
            await sdk.messages.create(model="no-such-model", max_tokens=5, messages=MESSAGES)


async def test_upstream_errors_keep_their_status(
    gateway: Gateway, anthropic_fake: FakeAnthropic
) -> None:
    anthropic_fake.fail_with, anthropic_fake.retry_after = 429, "2"
    async with client(gateway) as sdk:
        with pytest.raises(anthropic.RateLimitError) as caught:
            await sdk.messages.create(model="claude-test", max_tokens=5, messages=MESSAGES)
    assert caught.value.response.headers["retry-after"] == "2"


async def test_a_stream_that_breaks_after_its_start_ends_with_an_anthropic_error_event(
    gateway: Gateway, upstream: FakeOpenAI
) -> None:
    upstream.cut_after = 2
    async with client(gateway) as sdk:
        stream = await sdk.messages.create(
            model="gpt-test", max_tokens=100, messages=MESSAGES, stream=True
        )
        with pytest.raises(anthropic.APIStatusError) as caught:
            _ = [event async for event in stream]
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["error"]["type"] == "api_error"
    assert "ended before" in body["error"]["message"]
    [record] = [r for r in await gateway.usage() if r.endpoint == "/v1/messages"]
    assert record.status == 502
