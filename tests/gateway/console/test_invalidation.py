"""Console changes reach every gateway process within a second (Redis pub/sub).

Two gateways share one SQLite file and one Redis, as two processes on a host would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.keys import CATALOG, INVALIDATION
from tests.fakes.openai_upstream import API_KEY, FakeOpenAI
from tests.gateway.console.client import api
from tests.harness import Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.redis

CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def pair(tmp_path: Path, redis_clean: str) -> AsyncIterator[tuple[Gateway, Gateway]]:
    settings = gateway_settings(tmp_path, BELLA_REDIS_URL=redis_clean)
    async with running_gateway(settings) as one, running_gateway(settings) as two:
        for gw in (one, two):
            await asyncio.wait_for(gw.app[INVALIDATION].subscribed.wait(), 5)
        yield one, two


async def within(seconds: float, check: object) -> float:
    """Seconds until `check()` holds (polled), failing past `seconds`."""
    start = time.monotonic()
    while not await check():  # type: ignore[operator]
        assert time.monotonic() - start < seconds, "not seen in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_a_channel_made_on_one_process_serves_on_the_other_within_a_second(
    pair: tuple[Gateway, Gateway], upstream: FakeOpenAI
) -> None:
    one, two = pair
    await api(one, "POST", "/console/models", body={"name": "gpt-test"})
    body = {"code": "ch-up", "model": "gpt-test", "protocol": "openai", "url": upstream.url}
    await api(one, "POST", "/console/channels", body={**body, "credentials": {"api_key": API_KEY}})

    async def served() -> bool:
        return "gpt-test" in two.app[CATALOG].routes

    assert await within(1.0, served) < 1.0
    status, _ = await api(two, "POST", "/v1/chat/completions", two.key, CHAT)
    assert status == 200
    await api(one, "POST", "/console/channels/ch-up/deactivate")

    async def gone() -> bool:
        return "gpt-test" not in two.app[CATALOG].routes

    await within(1.0, gone)


async def test_a_deactivated_key_stops_on_every_process_within_a_second(
    pair: tuple[Gateway, Gateway],
) -> None:
    one, two = pair
    _, made = await api(one, "POST", "/console/apikeys", body={"name": "batch"})
    assert (await api(two, "GET", "/v1/apikey/whoami", made["key"]))[0] == 200  # now cached
    await api(one, "POST", f"/console/apikeys/{made['code']}/deactivate")

    async def refused() -> bool:
        return (await api(two, "GET", "/v1/apikey/whoami", made["key"]))[0] == 401

    assert await within(1.0, refused) < 1.0
