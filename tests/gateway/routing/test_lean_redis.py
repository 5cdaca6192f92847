"""The request path's Redis scripts on the lean client, and the outbox that batches releases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from gateway.keys import LIMITS, REDIS, REDIS_SCRIPTS
from gateway.redisconn import make_client, script_client
from gateway.routing.outbox import BATCH, Outbox
from gateway.settings import RedisSettings
from ratelimit import FastRedis, RateLimitStoreError, RedisClient, RedisLeases
from tests.gateway.routing.conftest import (
    StartFake,
    channel,
    chat,
    eventually,
    gateway,
    router_of,
    slots_held,
)
from tests.ratelimit.loopback import Loopback


@pytest.mark.redis
async def test_a_plain_redis_runs_the_request_path_on_the_lean_client(
    tmp_path: Path,
    start_fake: StartFake,
    http: aiohttp.ClientSession,
    redis: RedisClient,
    redis_clean: str,
) -> None:
    slow = await start_fake(chunks=3, interval_s=0.05)
    one = channel(slow.url, "ch-one", max_concurrency=1)
    async with gateway(tmp_path, one, BELLA_REDIS_URL=redis_clean) as gw:
        scripts = gw.app[REDIS_SCRIPTS]
        assert isinstance(scripts, FastRedis)
        assert isinstance(gw.app[REDIS], Redis)  # the rest of the gateway keeps redis-py
        holder = asyncio.create_task(chat(http, gw.url, gw.key, stream=True))
        await eventually(lambda: slots_held(redis, "ch-one", 1))
        assert (await holder).status == 200
        await eventually(lambda: slots_held(redis, "ch-one", 0))  # released through the outbox
        replies = await asyncio.gather(*(chat(http, gw.url, gw.key) for _ in range(4)))
        assert {r.status for r in replies} == {200}
        assert router_of(gw).slots.circuit.failures == 0
        assert gw.app[LIMITS].circuit.failures == 0


@pytest.mark.redis
async def test_a_cluster_keeps_redis_py_for_the_scripts(redis_cluster_url: str) -> None:
    settings = RedisSettings(url=redis_cluster_url)
    shared = make_client(settings)
    try:
        assert script_client(settings, shared) is shared
    finally:
        await shared.aclose()
    plain = RedisSettings(url="redis://127.0.0.1:1/0")
    shared = make_client(plain)
    scripts = script_client(plain, shared)
    try:
        assert isinstance(scripts, FastRedis)
    finally:
        await scripts.aclose()
        await shared.aclose()


async def test_the_outbox_starts_what_is_pending_together() -> None:
    outbox, gate = Outbox(), asyncio.Event()
    running, done = [0], [0]

    async def op() -> None:
        running[0] += 1
        await gate.wait()
        done[0] += 1

    for _ in range(BATCH + 6):
        outbox.post(op)
    outbox.start()
    await eventually(lambda: running[0] == BATCH)  # one batch at a time
    await asyncio.sleep(0.02)
    assert running[0] == BATCH
    gate.set()
    await outbox.close()
    assert done[0] == BATCH + 6
    assert outbox.pending == 0


async def test_close_finishes_everything_posted_and_counts_failures() -> None:
    outbox, done = Outbox(), []

    async def ok(index: int) -> None:
        await asyncio.sleep(0.001 * (index % 3))
        done.append(index)

    async def store_down() -> None:
        raise RateLimitStoreError("ConnectionError: Redis is down")

    async def broken() -> None:
        raise ValueError("a bug")

    outbox.start()
    for index in range(10):
        outbox.post(partial(ok, index))
    outbox.post(store_down)
    outbox.post(broken)
    await asyncio.sleep(0)
    outbox.post(partial(ok, 99))
    await outbox.close()
    assert sorted(done) == [*range(10), 99]
    assert outbox.failed == 2


@asynccontextmanager
async def leases_on_loopback(reply: bytes) -> AsyncIterator[tuple[Loopback, RedisLeases]]:
    """Leases on the lean client, against a stand-in Redis answering `reply` to everything."""
    async with Loopback(lambda commands: reply * len(commands)) as server:
        client = FastRedis.from_url(server.url)
        try:
            yield server, RedisLeases(client)
        finally:
            await client.aclose()


async def test_releases_posted_together_leave_in_one_write() -> None:
    outbox = Outbox()
    async with leases_on_loopback(b":1\r\n") as (server, leases):
        outbox.start()
        for index in range(30):
            outbox.post(partial(leases.release, f"k{index}", "r"))
        await outbox.close()
    assert [len(chunk) for chunk in server.chunks] == [30]
    assert outbox.failed == 0


async def test_started_releases_need_no_task_and_close_waits_for_them() -> None:
    outbox = Outbox()  # its task is never started: nothing posted needs it
    async with leases_on_loopback(b":1\r\n") as (server, leases):
        for index in range(30):
            write = leases.start_release(f"k{index}", "r")
            assert write is not None
            outbox.started(write)
        assert outbox.pending == 30
        await outbox.close()
        assert outbox.pending == 0
    assert [len(chunk) for chunk in server.chunks] == [30]
    assert outbox.failed == 0


async def test_a_started_write_that_fails_is_counted_or_handed_to_done() -> None:
    outbox = Outbox()
    ends: list[Exception | None] = []
    async with leases_on_loopback(b"-ERR boom\r\n") as (_, leases):
        counted = leases.start_release("k1", "r")
        handed = leases.start_release("k2", "r")
        assert counted is not None
        assert handed is not None
        outbox.started(counted)
        outbox.started(handed, ends.append)
        await outbox.close()
    assert outbox.failed == 1
    [error] = ends
    assert isinstance(error, RateLimitStoreError)
    assert "boom" in str(error)
