"""Backends for the rate-limit tests: in-process on a fake clock, or Redis on real time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio.cluster import RedisCluster

from ratelimit import (
    FastRedis,
    KeyChecks,
    Leases,
    Limiter,
    MemoryKeyChecks,
    MemoryLeases,
    MemoryLimiter,
    RedisClient,
    RedisKeyChecks,
    RedisLeases,
    RedisLimiter,
    ScriptClient,
    redis_from_url,
)

#: The window the behavioural tests use: virtual seconds in memory, short real ones on Redis.
MEMORY_WINDOW_S = 1.0
REDIS_WINDOW_S = 0.4


class FakeClock:
    """A clock the test drives: ``advance`` moves time without sleeping."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    """One implementation of every interface, plus a way to let time pass."""

    name: str
    limiter: Limiter
    leases: Leases
    checks: KeyChecks
    window_s: float
    sleep: Callable[[float], Awaitable[None]]

    def key(self) -> str:
        return f"k-{uuid.uuid4().hex[:12]}"


def memory_backend(clock: FakeClock) -> Backend:
    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    limiter, leases = MemoryLimiter(clock=clock), MemoryLeases(clock=clock)
    checks = MemoryKeyChecks(clock=clock, limiter=limiter, leases=leases)
    return Backend("memory", limiter, leases, checks, MEMORY_WINDOW_S, advance)


def redis_backend(client: ScriptClient) -> Backend:
    leases = RedisLeases(client)
    checks = RedisKeyChecks(client, leases=leases)
    return Backend("redis", RedisLimiter(client), leases, checks, REDIS_WINDOW_S, asyncio.sleep)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def redis_client(redis_clean: str) -> AsyncIterator[RedisClient]:
    client = redis_from_url(redis_clean)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def cluster_client(redis_cluster_url: str) -> AsyncIterator[RedisClient]:
    client = redis_from_url(redis_cluster_url)
    try:
        assert isinstance(client, RedisCluster)
        await client.initialize()  # learn the slot map now, for the tests that inspect it
        yield client
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis", "lean", "cluster"])
async def backend(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Backend]:
    """Each behavioural test runs in-process, on one Redis through redis-py's client and
    through the lean one (the gateway's request path), and on a 3-master Redis Cluster."""
    if request.param == "memory":
        yield memory_backend(clock)
        return
    client: ScriptClient
    if request.param == "lean":
        client = FastRedis.from_url(request.getfixturevalue("redis_clean"), timeout_s=2.0)
    else:
        url_fixture = "redis_clean" if request.param == "redis" else "redis_cluster_url"
        client = redis_from_url(request.getfixturevalue(url_fixture))
    try:
        yield redis_backend(client)
    finally:
        await client.aclose()
