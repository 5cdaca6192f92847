"""Chat completions end to end: the openai SDK → the gateway → a fake OpenAI upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from gateway.store.records import ApiKey
from tests.fakes.openai_upstream import API_KEY, FakeOpenAI
from tests.harness import Gateway, chat_catalog, chat_channel, gateway_settings, running_gateway

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say something."}]


@pytest.fixture
async def gateway(
    tmp_path: Path, database_url: str, upstream: FakeOpenAI
) -> AsyncIterator[Gateway]:
    catalog = chat_catalog(chat_channel(upstream.url, API_KEY, code="ch-fake"))
    async with running_gateway(gateway_settings(tmp_path, database_url, catalog)) as gw:
        yield gw


def client(gw: Gateway, key: str | None = None) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=gw.base_url, api_key=key or gw.key, max_retries=0)


async def test_non_stream_completion_is_relayed_and_billed(
    gateway: Gateway, upstream: FakeOpenAI
) -> None:
    async with client(gateway) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(
            model="gpt-test",
            messages=MESSAGES,
            extra_body={"vendor_knob": 7},
        )
    completion = raw.parse()
    assert completion.choices[0].message.content == "fake answer"
    assert raw.headers["x-bella-channel"] == "ch-fake"
    assert raw.headers["x-bella-request-id"].startswith("req-")
    sent = upstream.requests[-1]
    assert sent["model"] == "gpt-upstream"
    assert sent["vendor_knob"] == 7
    [record] = await gateway.usage()
    assert (record.status, record.model, record.channel_code) == (200, "gpt-test", "ch-fake")
    assert (record.prompt_tokens, record.completion_tokens) == (7, 5)
    assert record.cost == Decimal("0.017")  # 7/1000 x 1 + 5/1000 x 2
    assert not record.estimated


async def test_stream_relays_chunks_and_meters_the_hidden_usage_chunk(
    gateway: Gateway, upstream: FakeOpenAI
) -> None:
    async with client(gateway) as sdk:
        stream = await sdk.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "tok0 tok1 tok2 tok3 tok4 "
    assert all(c.choices for c in chunks), "the usage chunk the gateway asked for leaked"
    assert upstream.requests[-1]["stream_options"] == {"include_usage": True}
    [record] = await gateway.usage()
    assert record.status == 200
    assert (record.prompt_tokens, record.completion_tokens) == (7, 5)
    assert record.ttft_ms is not None


async def test_stream_with_client_include_usage_gets_the_usage_chunk(gateway: Gateway) -> None:
    async with client(gateway) as sdk:
        stream = await sdk.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5


async def test_models_lists_what_the_key_may_use(gateway: Gateway) -> None:
    async with client(gateway) as sdk:
        models = await sdk.models.list()
    assert [m.id for m in models.data] == ["gpt-test"]


async def test_bad_and_missing_keys_get_401(gateway: Gateway) -> None:
    async with client(gateway, key="sk-not-a-key") as sdk:
        with pytest.raises(openai.AuthenticationError):
            await sdk.chat.completions.create(model="gpt-test", messages=MESSAGES)
    revoked = await gateway.new_key()
    [row] = [k for k in await gateway.store.list_apikeys() if k.name == "test-low"]
    await gateway.store.set_apikey_status(row.code, "inactive")
    async with client(gateway, key=revoked) as sdk:
        with pytest.raises(openai.AuthenticationError):
            await sdk.models.list()
    assert await gateway.usage() == []


async def test_unknown_model_is_404_model_not_found(gateway: Gateway) -> None:
    async with client(gateway) as sdk:
        with pytest.raises(openai.NotFoundError) as caught:
            await sdk.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert caught.value.code == "model_not_found"
    [record] = await gateway.usage()
    assert (record.status, record.error_code) == (404, "model_not_found")


async def test_oversized_body_is_413(tmp_path: Path, upstream: FakeOpenAI) -> None:
    catalog = chat_catalog(chat_channel(upstream.url, API_KEY))
    settings = gateway_settings(tmp_path, "", catalog, BELLA_SERVER_MAX_BODY_BYTES="2048")
    async with running_gateway(settings) as gw, client(gw) as sdk:
        with pytest.raises(openai.APIStatusError) as caught:
            await sdk.chat.completions.create(
                model="gpt-test",
                messages=[{"role": "user", "content": "x" * 4096}],
            )
    assert caught.value.status_code == 413
    assert upstream.requests == []


async def test_upstream_down_is_502_without_hanging(tmp_path: Path, unused_tcp_port: int) -> None:
    dead = chat_channel(f"http://127.0.0.1:{unused_tcp_port}/v1", API_KEY, timeout_s=5)
    async with running_gateway(gateway_settings(tmp_path, "", chat_catalog(dead))) as gw:
        async with client(gw) as sdk:
            with pytest.raises(openai.APIStatusError) as caught:
                await sdk.chat.completions.create(model="gpt-test", messages=MESSAGES)
        assert caught.value.status_code == 502
        [record] = await gw.usage()
        assert record.status == 502
        assert record.error_code == "upstream_unavailable"


async def test_failover_to_the_next_channel_before_the_first_byte(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    broken = FakeOpenAI(fail_with=500)
    await broken.start()
    try:
        catalog = chat_catalog(
            chat_channel(broken.url, API_KEY, code="ch-broken"),
            chat_channel(upstream.url, API_KEY, code="ch-good"),
        )
        async with running_gateway(gateway_settings(tmp_path, "", catalog)) as gw:
            async with client(gw) as sdk:
                stream = await sdk.chat.completions.create(
                    model="gpt-test",
                    messages=MESSAGES,
                    stream=True,
                )
                chunks = [c async for c in stream]
            assert chunks
            [record] = await gw.usage()
            assert (record.status, record.channel_code) == (200, "ch-good")
            assert len(broken.requests) == 1
    finally:
        await broken.close()


async def test_upstream_failure_mid_stream_ends_with_an_error_event(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.cut_after = 2
    catalog = chat_catalog(chat_channel(upstream.url, API_KEY))
    async with running_gateway(gateway_settings(tmp_path, "", catalog)) as gw, client(gw) as sdk:
        stream = await sdk.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            stream=True,
        )
        with pytest.raises(openai.APIError):
            _ = [c async for c in stream]
        [record] = await gw.usage()
        assert record.status == 502
        assert record.estimated


async def test_an_error_event_the_upstream_ends_its_stream_with_is_relayed_and_recorded(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.error_after = 2
    catalog = chat_catalog(chat_channel(upstream.url, API_KEY))
    async with running_gateway(gateway_settings(tmp_path, "", catalog)) as gw:
        async with client(gw) as sdk:
            stream = await sdk.chat.completions.create(
                model="gpt-test", messages=MESSAGES, stream=True
            )
            with pytest.raises(openai.APIError, match="The model crashed"):
                _ = [c async for c in stream]
        body = {"model": "gpt-test", "messages": MESSAGES, "stream": True}
        headers = {"Authorization": f"Bearer {gw.key}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{gw.url}/v1/chat/completions", json=body, headers=headers) as raw,
        ):
            relayed = await raw.read()
        assert relayed.count(b'"error"') == 1  # the upstream's, and no second one of ours
        assert relayed.endswith(b"data: [DONE]\n\n")
        records = await gw.usage()
        assert [(r.status, r.error_code) for r in records] == [(502, "upstream_server_error")] * 2


async def test_keys_are_looked_up_once_then_served_from_memory(gateway: Gateway) -> None:
    lookups = 0
    original = gateway.store.apikey_by_hash

    async def counting(sha256: str) -> ApiKey | None:
        nonlocal lookups
        lookups += 1
        return await original(sha256)

    gateway.store.apikey_by_hash = counting  # type: ignore[method-assign]
    async with client(gateway) as sdk:
        for _ in range(5):
            await sdk.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert lookups == 1
