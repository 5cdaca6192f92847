"""The slot and cooldown scripts, and pub/sub wake-ups, on a 3-master Redis Cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster

from gateway.catalog import Route, make_route
from gateway.redisconn import make_client, pubsub_client
from gateway.routing.bus import CHANNEL, Bus, Listener, cool_key
from gateway.routing.slots import RedisSlots, slot_id
from gateway.settings import RedisSettings
from gateway.store.records import ChannelRow
from ratelimit.redis import lease_key
from tests.gateway.routing.conftest import StartFake, channel, chat, eventually, gateway, slots_held

pytestmark = pytest.mark.redis

CODES = [f"ch-{i}" for i in range(8)]


@pytest.fixture
async def cluster(redis_cluster_url: str) -> AsyncIterator[RedisCluster]:
    client = make_client(RedisSettings(url=redis_cluster_url))
    assert isinstance(client, RedisCluster)
    for code in CODES:
        await client.delete(lease_key(slot_id(code)), cool_key(code))
    yield client
    await client.aclose()


@pytest.fixture
async def subscriber(redis_cluster_url: str) -> AsyncIterator[PubSub]:
    client: Redis = pubsub_client(RedisSettings(url=redis_cluster_url))
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    yield pubsub
    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed in redis 8.2
    await client.aclose()


def route(code: str, limit: int) -> Route:
    row = ChannelRow(
        code=code, protocol="openai", url="http://127.0.0.1:1/v1", model="m", max_concurrency=limit
    )
    return make_route(row, 1.0)


async def messages(pubsub: PubSub, timeout_s: float = 0.5) -> list[bytes]:
    """What arrived within `timeout_s`, sorted (nodes forward their messages independently)."""
    seen: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        message = await pubsub.get_message(timeout=0.05)
        if message is not None:
            seen.append(message["data"])
    return sorted(seen)


async def test_keys_spread_over_every_master(cluster: RedisCluster) -> None:
    nodes = {cluster.get_node_from_key(lease_key(slot_id(code))) for code in CODES}
    assert None not in nodes
    assert len(nodes) == 3


async def test_slot_leases_and_release_notices_on_the_cluster(
    cluster: RedisCluster, subscriber: PubSub
) -> None:
    slots = RedisSlots(cluster, "proc-a")
    for code in CODES:
        full = route(code, 2)
        key = slot_id(code)
        assert await slots.leases.acquire(key, "r1", 2, 5.0)
        assert await slots.leases.acquire(key, "r2", 2, 5.0)
        assert not await slots.leases.acquire(key, "r3", 2, 5.0)
        await slots.release(full, "r1")  # from a full channel: published
        await slots.release(full, "r2")  # below the limit: nobody can be waiting
        assert await slots.leases.count(key) == 0
    expected = sorted(f"f|proc-a|{code}".encode() for code in CODES)
    assert await messages(subscriber) == expected


async def test_cooldown_key_and_notice_on_the_cluster(
    cluster: RedisCluster, subscriber: PubSub
) -> None:
    listener = Listener(lambda code: None, lambda code, s: None, lambda: None)
    bus = Bus(cluster, lambda: Redis(), process="proc-b", listener=listener)
    for code in CODES:
        await bus.share_cooldown(code, 3.0)
        await bus.share_cooldown(code, 1.0)  # shorter than the running one: ignored
    left = await bus.running_cooldowns(CODES)
    assert left == pytest.approx(dict.fromkeys(CODES, 3.0), abs=0.5)
    expected = sorted(f"c|proc-b|3000|{code}".encode() for code in CODES)
    assert await messages(subscriber) == expected


async def test_a_release_in_one_gateway_wakes_a_waiter_in_another(
    tmp_path: Path,
    start_fake: StartFake,
    http: aiohttp.ClientSession,
    redis_cluster_url: str,
    cluster: RedisCluster,
) -> None:
    slow = await start_fake(chunks=6, interval_s=0.1)
    one = channel(slow.url, "ch-0", max_concurrency=1)
    env = {"BELLA_REDIS_URL": redis_cluster_url, "BELLA_QUEUE_POLL_S": "30"}
    async with (
        gateway(tmp_path / "a", one, **env) as first,
        gateway(tmp_path / "b", one, **env) as second,
    ):
        holder = asyncio.create_task(chat(http, first.url, first.key, stream=True))
        await eventually(lambda: slots_held(cluster, "ch-0", 1))
        waiter = await chat(http, second.url, second.key, stream=True, max_wait=10)
        held = await holder
        assert (held.status, waiter.status) == (200, 200)
        assert waiter.elapsed < held.elapsed + 1.0  # woken by the bus, not by the 30 s poll
        await eventually(lambda: slots_held(cluster, "ch-0", 0))
        assert slow.max_in_flight == 1
