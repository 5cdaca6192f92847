"""What only the Redis backend has: key layout, expiry, scripts, outages, URLs, cluster slots."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from ratelimit import (
    Check,
    RateLimitStoreError,
    RedisClient,
    RedisKeyChecks,
    RedisLeases,
    RedisLimiter,
    redis_from_url,
)
from ratelimit.redis import lease_key, rate_key, tokens_key, tokens_sum_key
from tests.servers.redis import RedisServer


def new_key() -> str:
    return f"k-{uuid.uuid4().hex[:12]}"


def node_name(cluster: RedisCluster, key: str) -> str:
    node = cluster.get_node_from_key(key)
    assert node is not None
    return node.name


async def test_keys_are_hash_tagged_and_expire_when_idle(redis_client: RedisClient) -> None:
    key = new_key()
    await RedisLimiter(redis_client).hit(key, 5, 2.0)
    await RedisLeases(redis_client).acquire(key, "a", 5, 3.0)
    await RedisKeyChecks(redis_client).reserve(key, 10, 1000)
    assert await redis_client.type(rate_key(key)) == b"list"
    assert await redis_client.type(lease_key(key)) == b"zset"
    assert await redis_client.type(tokens_key(key)) == b"list"
    assert rate_key(key) == f"bella:{{{key}}}:rl"
    assert lease_key(key) == f"bella:{{{key}}}:lease"
    assert 1900 < await redis_client.pttl(rate_key(key)) <= 2001
    assert 2900 < await redis_client.pttl(lease_key(key)) <= 3001
    assert 59_000 < await redis_client.pttl(tokens_sum_key(key)) <= 60_001
    slots = {key_slot(name(key).encode()) for name in (rate_key, lease_key, tokens_key)}
    assert len(slots) == 1


async def test_an_idle_log_vanishes_after_its_window(redis_client: RedisClient) -> None:
    key = new_key()
    assert (await RedisLimiter(redis_client).hit(key, 5, 0.05)).allowed
    await asyncio.sleep(0.06)  # the server expires the key on its own clock
    assert await redis_client.exists(rate_key(key)) == 0


async def test_scripts_are_reloaded_after_a_script_flush(redis_client: RedisClient) -> None:
    limiter, checks = RedisLimiter(redis_client), RedisKeyChecks(redis_client)
    assert (await limiter.hit(new_key(), 5, 1.0)).allowed
    await redis_client.script_flush()
    assert (await limiter.hit(new_key(), 5, 1.0)).allowed
    assert (await checks.check([Check(new_key(), rate_limit=1)])).allowed


async def test_a_stopped_server_raises_store_errors_then_recovers(
    isolated_redis_server: RedisServer,
) -> None:
    client = redis_from_url(isolated_redis_server.url)
    try:
        limiter, leases = RedisLimiter(client), RedisLeases(client)
        assert (await limiter.hit("k", 5, 1.0)).allowed
        isolated_redis_server.stop()
        with pytest.raises(RateLimitStoreError):
            await limiter.hit("k", 5, 1.0)
        with pytest.raises(RateLimitStoreError):
            await leases.release("k", "a")
        isolated_redis_server.start()  # an empty server: scripts must be loaded again
        assert (await limiter.hit("k", 5, 1.0)).allowed
        assert await leases.acquire("k", "a", 1, 5.0)
    finally:
        await client.aclose()


async def test_redis_from_url_picks_the_client_by_scheme(redis_url: str) -> None:
    plain = redis_from_url(redis_url)
    secure = redis_from_url("rediss://127.0.0.1:1/0")
    try:
        assert isinstance(plain, Redis)
        assert isinstance(secure, Redis)
        assert await plain.ping()
    finally:
        await plain.aclose()
        await secure.aclose()
    with pytest.raises(ValueError, match="redis"):
        redis_from_url("http://127.0.0.1:6379")


async def test_cluster_url_gives_a_cluster_client(cluster_client: RedisClient) -> None:
    assert isinstance(cluster_client, RedisCluster)
    assert len(cluster_client.get_primaries()) == 3


async def test_cluster_spreads_key_ids_over_nodes(cluster_client: RedisClient) -> None:
    assert isinstance(cluster_client, RedisCluster)
    limiter, leases = RedisLimiter(cluster_client), RedisLeases(cluster_client)
    keys = [f"ak-{index}" for index in range(12)]
    nodes = {node_name(cluster_client, rate_key(key)) for key in keys}
    assert len(nodes) == 3
    for key in keys:
        assert node_name(cluster_client, lease_key(key)) == node_name(cluster_client, rate_key(key))
        assert [(await limiter.hit(key, 2, 1.0)).allowed for _ in range(3)] == [True, True, False]
        assert await leases.acquire(key, "a", 1, 5.0)
        assert not await leases.acquire(key, "b", 1, 5.0)
        await leases.renew(key, ["a"], 5.0)
        assert await leases.count(key) == 1
        await leases.release(key, "a")
        assert await leases.count(key) == 0


async def test_cluster_check_across_slots_takes_back_what_it_applied(
    cluster_client: RedisClient,
) -> None:
    checks = RedisKeyChecks(cluster_client)
    child, parent = "ak-child-1", "ak-parent-1"
    assert key_slot(rate_key(child).encode()) != key_slot(rate_key(parent).encode())
    request = [
        Check(child, rate_limit=1, concurrency=1, lease_id="r1"),
        Check(parent, rate_limit=1, concurrency=1, lease_id="r1"),
    ]
    assert await checks.leases.acquire(parent, "other", 1, 5.0)
    failed = await checks.check(request)
    assert (failed.allowed, failed.reason, failed.failed_key) == (False, "concurrency", parent)
    assert await checks.leases.count(child) == 0
    assert await cluster_client.llen(rate_key(child)) == 0
    await checks.leases.release(parent, "other")
    passed = await checks.check(request)
    assert (passed.allowed, passed.remaining) == (True, 0)
    await checks.release(request)
    assert await checks.leases.count(child) == await checks.leases.count(parent) == 0
