"""The demo mock model through the whole gateway: tool calls, timing headers, disconnects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from gateway.declare import DEMO_CATALOG
from gateway.store.records import UsageRecord
from tests.harness import Gateway, gateway_settings, running_gateway

WEATHER: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
async def gateway(tmp_path: Path, database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(tmp_path, database_url, DEMO_CATALOG)) as gw:
        yield gw


async def test_tool_call_non_stream(gateway: Gateway) -> None:
    async with AsyncOpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0) as sdk:
        reply = await sdk.chat.completions.create(model="mock-chat", messages=ASK, tools=[WEATHER])
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock", "days": 1}


async def test_tool_call_stream(gateway: Gateway) -> None:
    async with AsyncOpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(
            model="mock-chat", messages=ASK, tools=[WEATHER], stream=True
        )
        chunks = [c async for c in stream]
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls[0].function is not None
    assert calls[0].function.name == "get_weather"
    arguments = "".join(tc.function.arguments or "" for tc in calls if tc.function)
    assert json.loads(arguments) == {"city": "mock", "days": 1}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_mock_headers_shape_the_answer(gateway: Gateway) -> None:
    async with AsyncOpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0) as sdk:
        reply = await sdk.chat.completions.create(
            model="mock-chat",
            messages=ASK,
            extra_headers={"X-Bella-Mock-Text": "one two three", "X-Bella-Mock-Tokens": "3"},
        )
    assert reply.choices[0].message.content == "one two three"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 3


async def _wait_for_usage(gw: Gateway) -> UsageRecord:
    for _ in range(100):
        records = await gw.usage()
        if records:
            return records[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no usage record was written")


async def test_client_disconnect_mid_stream_still_records_partial_usage(gateway: Gateway) -> None:
    headers = {
        "Authorization": f"Bearer {gateway.key}",
        "X-Bella-Mock-Interval-Ms": "30",
        "X-Bella-Mock-Tokens": "200",
    }
    body = {"model": "mock-chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            gateway.base_url + "/chat/completions", json=body, headers=headers
        )
        first = await response.content.readuntil(b"\n\n")
        await response.content.readuntil(b"\n\n")
        response.close()
    assert first.startswith(b"data: ")
    record = await _wait_for_usage(gateway)
    assert (record.status, record.error_code) == (499, "client_closed")
    assert record.estimated
    assert 1 <= record.completion_tokens < 200
    assert record.ttft_ms is not None
