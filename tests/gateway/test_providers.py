"""Every provider adapter end to end: the openai SDK → the gateway → a fake vendor server.

Each provider runs the same checks — a non-stream answer, a stream, and a tool call followed
by the answer to its result, stream and non-stream — so the adapters × features table in
docs/adapters.md is what these tests cover. Function-call emulation runs through the mock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionToolParam

from tests.adapters.helpers import WEATHER_TOOL
from tests.fakes import (
    anthropic_upstream,
    azure_upstream,
    bedrock_upstream,
    dashscope_upstream,
    gemini_upstream,
    volcengine_upstream,
)
from tests.fakes.vendor import COMPLETION_TOKENS, PROMPT_TOKENS, TEXT, FakeVendor
from tests.harness import Gateway, chat_catalog, gateway_settings, running_gateway


@dataclass(frozen=True)
class Provider:
    protocol: str
    fake: Callable[[], FakeVendor]
    credentials: dict[str, str]
    deploy_name: str = "vendor-model"
    options: tuple[tuple[str, Any], ...] = ()


PROVIDERS = [
    Provider(
        "anthropic", anthropic_upstream.FakeAnthropic, {"api_key": anthropic_upstream.API_KEY}
    ),
    Provider("gemini", gemini_upstream.FakeGemini, {"api_key": gemini_upstream.API_KEY}),
    Provider(
        "azure",
        azure_upstream.FakeAzure,
        {"api_key": azure_upstream.API_KEY},
        deploy_name=azure_upstream.DEPLOYMENT,
    ),
    Provider(
        "dashscope", dashscope_upstream.FakeDashScope, {"api_key": dashscope_upstream.API_KEY}
    ),
    Provider(
        "volcengine", volcengine_upstream.FakeVolcengine, {"api_key": volcengine_upstream.API_KEY}
    ),
    Provider(
        "bedrock",
        bedrock_upstream.FakeBedrock,
        {
            "access_key_id": bedrock_upstream.ACCESS_KEY,
            "secret_access_key": bedrock_upstream.SECRET_KEY,
        },
        deploy_name="amazon.titan-text-express-v1",  # no ":": see adapters/bedrock.py
        options=(("region", "us-east-1"),),
    ),
]
MESSAGES: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS = [cast(ChatCompletionToolParam, WEATHER_TOOL)]


@pytest.fixture(params=PROVIDERS, ids=lambda provider: provider.protocol)
def provider(request: pytest.FixtureRequest) -> Provider:
    chosen: Provider = request.param
    return chosen


@pytest.fixture
async def vendor(provider: Provider) -> AsyncIterator[FakeVendor]:
    fake = provider.fake()
    await fake.start()
    yield fake
    await fake.close()


def channel(provider: Provider, vendor: FakeVendor, **fields: Any) -> dict[str, Any]:
    return {
        "code": f"ch-{provider.protocol}",
        "model": "gpt-test",
        "protocol": provider.protocol,
        "url": vendor.origin,
        "credentials": provider.credentials,
        "deploy_name": provider.deploy_name,
        "price": {"input": "1", "output": "2"},
        "options": dict(provider.options),
        **fields,
    }


@pytest.fixture
async def gateway(tmp_path: Path, provider: Provider, vendor: FakeVendor) -> AsyncIterator[Gateway]:
    catalog = chat_catalog(channel(provider, vendor))
    async with running_gateway(gateway_settings(tmp_path, "", catalog)) as gw:
        yield gw


def client(gw: Gateway) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)


async def test_non_stream(gateway: Gateway, provider: Provider) -> None:
    async with client(gateway) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(
            model="gpt-test", messages=MESSAGES
        )
    completion = raw.parse()
    assert completion.choices[0].message.content == TEXT
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == PROMPT_TOKENS
    assert raw.headers["x-bella-channel"] == f"ch-{provider.protocol}"
    [record] = await gateway.usage()
    assert (record.status, record.prompt_tokens) == (200, PROMPT_TOKENS)
    assert record.completion_tokens == COMPLETION_TOKENS
    assert not record.estimated


async def test_stream(gateway: Gateway) -> None:
    async with client(gateway) as sdk:
        stream = await sdk.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == TEXT
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == COMPLETION_TOKENS
    [record] = await gateway.usage()
    assert (record.status, record.completion_tokens, record.estimated) == (
        200,
        COMPLETION_TOKENS,
        False,
    )
    assert record.ttft_ms is not None


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_tool_call_then_result(gateway: Gateway, stream: bool) -> None:
    async with client(gateway) as sdk:
        if stream:
            chunks = [
                chunk
                async for chunk in await sdk.chat.completions.create(
                    model="gpt-test", messages=MESSAGES, tools=TOOLS, stream=True
                )
            ]
            deltas = [c.choices[0].delta for c in chunks if c.choices]
            calls = [call for d in deltas for call in d.tool_calls or ()]
            call_id, name = calls[0].id, calls[0].function.name  # type: ignore[union-attr]
            arguments = "".join(c.function.arguments or "" for c in calls if c.function)
        else:
            completion = await sdk.chat.completions.create(
                model="gpt-test", messages=MESSAGES, tools=TOOLS
            )
            assert completion.choices[0].finish_reason == "tool_calls"
            [tool_call] = completion.choices[0].message.tool_calls or []
            call_id, name = tool_call.id, tool_call.function.name  # type: ignore[union-attr]
            arguments = tool_call.function.arguments  # type: ignore[union-attr]
        assert (name, arguments) == ("get_weather", '{"city":"mock"}')
        function = {"name": name, "arguments": arguments}
        follow_up = [
            *MESSAGES,
            {"role": "assistant", "tool_calls": [{"id": call_id, "type": "function",
                                                  "function": function}]},
            {"role": "tool", "tool_call_id": call_id, "content": "sunny, 21C"},
        ]  # fmt: skip
        answer = await sdk.chat.completions.create(
            model="gpt-test", messages=follow_up, tools=TOOLS
        )
    assert answer.choices[0].message.content == TEXT


async def test_vendor_errors_fail_over_or_not(
    tmp_path: Path, provider: Provider, vendor: FakeVendor
) -> None:
    broken = provider.fake()
    broken.fail_with, broken.retry_after = 429, "1"
    await broken.start()
    try:
        catalog = chat_catalog(
            channel(provider, broken, code="ch-limited", priority="high"),
            channel(provider, vendor, code="ch-good"),
        )
        async with running_gateway(gateway_settings(tmp_path, "", catalog)) as gw:
            async with client(gw) as sdk:
                completion = await sdk.chat.completions.create(model="gpt-test", messages=MESSAGES)
                assert completion.choices[0].message.content == TEXT
                broken.fail_with = vendor.fail_with = 400
                with pytest.raises(openai.BadRequestError):
                    await sdk.chat.completions.create(model="gpt-test", messages=MESSAGES)
            records = await gw.usage()
        assert sorted((r.status, r.channel_code) for r in records) == [
            (200, "ch-good"),
            (400, "ch-good"),
        ]
        assert len(broken.requests) == 1, "a 400 is not retried elsewhere"
    finally:
        await broken.close()


# --- function-call emulation through the mock ---------------------------------------------

CALL_TEXT = '<tool_call> {"name": "get_weather", "arguments": {"city": "Paris"}} </tool_call>'


@pytest.fixture
async def emulating(tmp_path: Path) -> AsyncIterator[Gateway]:
    mock = {
        "code": "ch-mock-fc",
        "model": "gpt-test",
        "protocol": "mock",
        "url": "mock://local",
        "price": {"input": "1", "output": "2"},
        "options": {"function_call_simulate": True},
    }
    async with running_gateway(gateway_settings(tmp_path, "", chat_catalog(mock))) as gw:
        yield gw


def scripted(text: str) -> dict[str, str]:
    return {"X-Bella-Mock-Text": text, "X-Bella-Mock-Tokens": str(len(text.split()))}


async def test_emulated_tools_multi_turn(emulating: Gateway) -> None:
    async with client(emulating) as sdk:
        first = await sdk.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            tools=TOOLS,
            extra_headers=scripted("Let me look. " + CALL_TEXT),
        )
        message = first.choices[0].message
        assert (message.content, first.choices[0].finish_reason) == ("Let me look.", "tool_calls")
        [call] = message.tool_calls or []
        assert call.function.arguments == '{"city":"Paris"}'  # type: ignore[union-attr]
        history = [
            *MESSAGES,
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "18C"},
        ]
        stream = await sdk.chat.completions.create(
            model="gpt-test",
            messages=history,
            tools=TOOLS,
            stream=True,
            extra_headers=scripted("It is 18C in Paris."),
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "It is 18C in Paris."
    records = await emulating.usage()
    assert [r.status for r in records] == [200, 200]
    assert records[0].cost > Decimal(0)


async def test_emulated_stream_call_and_malformed_reply(emulating: Gateway) -> None:
    async with client(emulating) as sdk:
        stream = await sdk.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            tools=TOOLS,
            stream=True,
            extra_headers=scripted(CALL_TEXT),
        )
        chunks = [c async for c in stream]
        calls = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or ()]
        assert [t.function.name for t in calls if t.function] == ["get_weather"]
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
        broken = await sdk.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            tools=TOOLS,
            extra_headers=scripted("<tool_call> {broken </tool_call>"),
        )
    assert broken.choices[0].message.content == "<tool_call> {broken </tool_call>"
    assert not broken.choices[0].message.tool_calls
