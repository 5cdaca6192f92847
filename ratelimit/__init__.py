"""Rate limits (sliding windows, token budgets) and concurrency leases, in-process or on Redis.

Memory (embedded mode, one process)::

    limiter, leases = MemoryLimiter(), MemoryLeases()
    checks = MemoryKeyChecks()

Redis or Redis Cluster (many gateway processes)::

    client = redis_from_url("redis://127.0.0.1:6379/0")  # or redis+cluster://host:port
    limiter, leases = RedisLimiter(client), RedisLeases(client)
    checks = RedisKeyChecks(client)
    ...
    await client.aclose()

On a plain Redis the request path runs its scripts through the lean, auto-pipelining
``FastRedis`` instead (``FastRedis.from_url(url, timeout_s=1.0)``): same scripts, same keys,
same redis-py exceptions, a fraction of redis-py's CPU per call.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from ratelimit.base import (
    QPS_WINDOW_S,
    RPM_WINDOW_S,
    UNLIMITED,
    Check,
    CheckResult,
    Clock,
    Decision,
    KeyChecks,
    Leases,
    Limiter,
    RateLimitStoreError,
    Reason,
)
from ratelimit.fastredis import FastRedis
from ratelimit.memory import MemoryLeases, MemoryLimiter
from ratelimit.memory_checks import MemoryKeyChecks
from ratelimit.redis import RedisClient, RedisLeases, RedisLimiter, ScriptClient
from ratelimit.redis_checks import RedisKeyChecks

__all__ = [
    "QPS_WINDOW_S",
    "RPM_WINDOW_S",
    "UNLIMITED",
    "Check",
    "CheckResult",
    "Clock",
    "Decision",
    "FastRedis",
    "KeyChecks",
    "Leases",
    "Limiter",
    "MemoryKeyChecks",
    "MemoryLeases",
    "MemoryLimiter",
    "RateLimitStoreError",
    "Reason",
    "RedisClient",
    "RedisKeyChecks",
    "RedisLeases",
    "RedisLimiter",
    "ScriptClient",
    "redis_from_url",
]

_CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
_PLAIN_SCHEMES = frozenset({"redis", "rediss", "unix"})


def redis_from_url(url: str, **kwargs: Any) -> RedisClient:
    """A Redis client for ``redis://``, ``rediss://`` or ``unix://``, or a Redis Cluster client
    for ``redis+cluster://host:port`` (``rediss+cluster://`` with TLS).

    ``kwargs`` go to the client (timeouts, retries). Connections open lazily; close the client
    with ``await client.aclose()``.
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme in _CLUSTER_SCHEMES:
        return RedisCluster.from_url(f"{_CLUSTER_SCHEMES[scheme]}://{rest}", **kwargs)
    if sep and scheme in _PLAIN_SCHEMES:
        client: Redis = Redis.from_url(url, **kwargs)
        return client
    raise ValueError("a Redis url starts with redis://, rediss://, unix:// or redis+cluster://")
