"""Clients that leave: while queued, and while streaming. Slots and queue places come back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
import pytest

from ratelimit import RedisClient
from ratelimit.redis import lease_key
from tests.gateway.routing.conftest import (
    MESSAGES,
    StartFake,
    channel,
    chat,
    eventually,
    gateway,
    router_of,
    slots_held,
)

pytestmark = pytest.mark.redis

LEASES = lease_key("ch:ch-one")


async def open_stream(
    session: aiohttp.ClientSession, url: str, key: str, streaming: asyncio.Event | None = None
) -> None:
    """A streaming request read until its first chunk (then `streaming` is set), then held
    open until cancelled."""
    body = orjson.dumps({"model": "gpt-test", "messages": MESSAGES, "stream": True})
    headers = {"Authorization": f"Bearer {key}", "X-Bella-Max-Wait": "10"}
    async with session.post(f"{url}/v1/chat/completions", data=body, headers=headers) as resp:
        assert await resp.content.readany()
        if streaming is not None:
            streaming.set()
        await asyncio.sleep(60)


async def test_client_gone_while_queued_leaves_the_queue_and_takes_no_slot(
    tmp_path: Path,
    start_fake: StartFake,
    http: aiohttp.ClientSession,
    redis: RedisClient,
    redis_clean: str,
) -> None:
    slow = await start_fake(chunks=10, interval_s=0.1)
    one = channel(slow.url, "ch-one", max_concurrency=1)
    async with gateway(tmp_path, one, BELLA_REDIS_URL=redis_clean) as gw:
        router = router_of(gw)
        holder = asyncio.create_task(chat(http, gw.url, gw.key, stream=True))
        await eventually(lambda: slots_held(redis, "ch-one", 1))
        async with aiohttp.ClientSession() as leaving:
            queued = asyncio.create_task(open_stream(leaving, gw.url, gw.key))
            await eventually(lambda: router.state().queues == {"gpt-test": 1})
            queued.cancel()
            await asyncio.gather(queued, return_exceptions=True)
        await eventually(lambda: router.state().queues == {}, timeout_s=1.0)  # tick: 0.1 s
        assert await redis.zcard(LEASES) == 1  # the holder's, and only it
        assert (await holder).status == 200
        await eventually(lambda: slots_held(redis, "ch-one", 0))
        assert router.slots.held("ch-one") == 0
        assert len(slow.requests) == 1
        records = {r.status for r in await gw.usage()}
        assert records == {200, 499}


async def test_client_gone_while_streaming_releases_the_slot(
    tmp_path: Path, start_fake: StartFake, redis: RedisClient, redis_clean: str
) -> None:
    slow = await start_fake(chunks=50, interval_s=0.05)
    one = channel(slow.url, "ch-one", max_concurrency=1)
    async with gateway(tmp_path, one, BELLA_REDIS_URL=redis_clean) as gw:
        router = router_of(gw)
        async with aiohttp.ClientSession() as leaving:
            first_chunk = asyncio.Event()
            stream = asyncio.create_task(open_stream(leaving, gw.url, gw.key, first_chunk))
            await asyncio.wait_for(first_chunk.wait(), 5.0)
            assert router.slots.held("ch-one") == 1
            assert await slots_held(redis, "ch-one", 1)
            stream.cancel()
            await asyncio.gather(stream, return_exceptions=True)
        await eventually(lambda: slots_held(redis, "ch-one", 0), timeout_s=2.0)
        assert router.slots.held("ch-one") == 0
        [record] = await gw.usage()
        assert record.status == 499
