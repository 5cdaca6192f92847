"""Per-key QPS, concurrency and monthly quota in one embedded gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from gateway.declare import DEMO_CATALOG
from tests.fakes.openai_upstream import API_KEY, FakeOpenAI
from tests.harness import Gateway, chat_channel, gateway_settings, running_gateway

BODY = {"model": "mock-chat", "messages": [{"role": "user", "content": "hi"}]}
SLOW = {"X-Bella-Mock-Interval-Ms": "50", "X-Bella-Mock-Tokens": "400"}


@pytest.fixture
async def gateway(tmp_path: Path, upstream: FakeOpenAI) -> AsyncIterator[Gateway]:
    upstream.fail_with = 500
    catalog = {
        "models": [*DEMO_CATALOG["models"], {"name": "gpt-test"}],
        "channels": [*DEMO_CATALOG["channels"], chat_channel(upstream.url, API_KEY)],
    }
    async with running_gateway(gateway_settings(tmp_path, "", catalog)) as gw:
        yield gw


async def post(
    http: aiohttp.ClientSession, gw: Gateway, key: str, body: dict[str, Any] = BODY
) -> tuple[int, str, dict[str, str]]:
    headers = {"Authorization": f"Bearer {key}", "X-Bella-Mock-Interval-Ms": "0"}
    async with http.post(gw.base_url + "/chat/completions", json=body, headers=headers) as response:
        data = await response.json()
        code = data["error"]["code"] if response.status >= 400 else ""
        return response.status, code, dict(response.headers)


async def accepted_eventually(http: aiohttp.ClientSession, gw: Gateway, key: str) -> None:
    for _ in range(100):
        status, _, _ = await post(http, gw, key)
        if status == 200:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the key's concurrency slot was never given back")


async def test_qps_limit_rejects_with_retry_after_and_consumes_nothing(gateway: Gateway) -> None:
    key = await gateway.new_key(qps=10)
    async with aiohttp.ClientSession() as http:
        results = [await post(http, gateway, key) for _ in range(25)]
    statuses = [status for status, _, _ in results]
    assert statuses.count(200) == 10
    rejected = [r for r in results if r[0] == 429]
    assert {code for _, code, _ in rejected} == {"rate_limit_exceeded"}
    assert all(int(headers["Retry-After"]) >= 1 for _, _, headers in rejected)
    records = await gateway.usage()
    assert sum(1 for r in records if r.status == 429 and r.cost == 0) == 15


async def test_fourth_concurrent_stream_is_rejected(gateway: Gateway) -> None:
    key = await gateway.new_key(concurrency=3)
    headers = {"Authorization": f"Bearer {key}", **SLOW}
    async with aiohttp.ClientSession() as http:
        streams = [
            await http.post(
                gateway.base_url + "/chat/completions",
                json={**BODY, "stream": True},
                headers=headers,
            )
            for _ in range(3)
        ]
        assert [s.status for s in streams] == [200, 200, 200]
        status, code, _ = await post(http, gateway, key)
        assert (status, code) == (429, "concurrency_limit_exceeded")
        streams[0].close()  # a client that goes away gives its slot back
        await accepted_eventually(http, gateway, key)
        for s in streams[1:]:
            s.close()


async def test_the_slot_comes_back_after_a_normal_end_and_an_upstream_error(
    gateway: Gateway,
) -> None:
    key = await gateway.new_key(concurrency=1)
    async with aiohttp.ClientSession() as http:
        assert (await post(http, gateway, key))[0] == 200
        await accepted_eventually(http, gateway, key)
        failing = {"model": "gpt-test", "messages": BODY["messages"]}
        assert (await post(http, gateway, key, failing))[0] == 502
        await accepted_eventually(http, gateway, key)


async def test_monthly_quota_refuses_with_insufficient_quota(gateway: Gateway) -> None:
    key = await gateway.new_key(month_quota=Decimal("0.00001"))
    async with AsyncOpenAI(base_url=gateway.base_url, api_key=key, max_retries=0) as sdk:
        await sdk.chat.completions.create(
            model="mock-chat", messages=[{"role": "user", "content": "hi"}]
        )
        with pytest.raises(openai.RateLimitError) as caught:
            await sdk.chat.completions.create(
                model="mock-chat", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.code == "insufficient_quota"
    records = await gateway.usage()
    assert [r.status for r in reversed(records)] == [200, 429]
    assert records[0].cost == 0


async def test_quota_survives_a_restart(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, "", DEMO_CATALOG)
    async with running_gateway(settings) as gw:
        key = await gw.new_key(month_quota=Decimal("0.00001"))
        async with aiohttp.ClientSession() as http:
            assert (await post(http, gw, key))[0] == 200
    async with running_gateway(settings) as gw, aiohttp.ClientSession() as http:
        assert (await post(http, gw, key))[:2] == (429, "insufficient_quota")
