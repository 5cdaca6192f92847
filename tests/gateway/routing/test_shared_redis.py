"""Routing state shared through Redis, and what happens when Redis goes away."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from adapters.errors import UpstreamRateLimited
from gateway.keys import CATALOG
from gateway.routing.bus import cool_key
from ratelimit import RedisClient, redis_from_url
from tests.gateway.routing.conftest import (
    StartFake,
    channel,
    chat,
    eventually,
    gateway,
    router_of,
    slots_held,
)
from tests.harness import Gateway
from tests.servers.redis import RedisServer

pytestmark = pytest.mark.redis


def _now(gw: Gateway) -> float:
    return router_of(gw).health.clock()


async def test_cooldowns_are_shared_through_redis(
    tmp_path: Path, start_fake: StartFake, redis: RedisClient, redis_clean: str
) -> None:
    fake = await start_fake()
    one = channel(fake.url, "ch-one")
    async with (
        gateway(tmp_path / "a", one, BELLA_REDIS_URL=redis_clean) as first,
        gateway(tmp_path / "b", one, BELLA_REDIS_URL=redis_clean) as second,
    ):
        bus = router_of(second).bus
        assert bus is not None
        await eventually(lambda: bus.connected)
        [route] = [r for rs in first.app[CATALOG].routes.values() for r in rs]
        router_of(first).report(route, UpstreamRateLimited("slow down", retry_after=5))
        await eventually(lambda: router_of(second).health.cooling("ch-one", _now(second)))
        assert 4000 < await redis.pttl(cool_key("ch-one")) <= 5000
    async with gateway(tmp_path / "c", one, BELLA_REDIS_URL=redis_clean) as third:
        # a process that starts later reads the running cooldowns when it subscribes
        await eventually(lambda: router_of(third).health.cooling("ch-one", _now(third)))


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_redis_stopped_mid_run_then_back(
    tmp_path: Path,
    start_fake: StartFake,
    http: aiohttp.ClientSession,
    isolated_redis_server: RedisServer,
    mode: str,
) -> None:
    server = isolated_redis_server
    slow = await start_fake(chunks=4, interval_s=0.1)
    one = channel(slow.url, "ch-one", max_concurrency=2)
    env = {
        "BELLA_REDIS_URL": server.url,
        "BELLA_LIMITS_REDIS_FAILURE": mode,
        "BELLA_LIMITS_REDIS_RETRY_S": "0.2",
    }
    client = redis_from_url(server.url)
    try:
        async with gateway(tmp_path, one, **env) as gw:
            router = router_of(gw)
            assert (await chat(http, gw.url, gw.key)).status == 200
            assert not router.state().redis_down

            server.stop()
            down = [await chat(http, gw.url, gw.key) for _ in range(3)]
            if mode == "open":
                assert {r.status for r in down} == {200}
                assert router.state().local_fallbacks >= 1
            else:
                assert {(r.status, r.code) for r in down} == {(503, "service_unavailable")}
            assert router.state().redis_down

            server.start()
            await eventually(lambda: _served(http, gw), timeout_s=3.0)
            holder = asyncio.create_task(chat(http, gw.url, gw.key, stream=True))
            await eventually(lambda: slots_held(client, "ch-one", 1), timeout_s=2.0)
            assert (await holder).status == 200
            assert not router.state().redis_down
    finally:
        await client.aclose()


async def _served(http: aiohttp.ClientSession, gw: Gateway) -> bool:
    reply = await chat(http, gw.url, gw.key)
    return reply.status == 200 and not router_of(gw).state().redis_down
