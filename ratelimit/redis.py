"""Redis sliding-window limiter and concurrency leases, shared by many gateway processes.

Key layout — one hash tag per key id, so every script touches one Redis Cluster slot:

    bella:{<id>}:rl        list    accepted-hit stamps (µs of server TIME), oldest first
    bella:{<id>}:lease     zset    lease id -> expiry (µs of server TIME)
    bella:{<id>}:tpm       list    token reservations "stamp:tokens", oldest first
    bella:{<id>}:tpm:sum   string  running total of bella:{<id>}:tpm

Every call is one round trip: an EVALSHA of a script registered once per client (the
script loads itself again on NOSCRIPT, also after a server restart). The same code serves
the lean ``ratelimit.fastredis.FastRedis`` (a plain Redis on the request path),
``redis.asyncio.Redis`` and ``redis.asyncio.cluster.RedisCluster``: both clients raise
redis-py's exceptions, which surface here as ``RateLimitStoreError``. The invariants of the
data live with the scripts in ``ratelimit.lua``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import RedisClusterException, RedisError

from ratelimit import lua
from ratelimit.base import (
    Decision,
    RateLimitStoreError,
    unlimited,
    validate_key,
    validate_lease,
    validate_rate,
)
from ratelimit.fastredis import FastRedis, Script

RedisClient: TypeAlias = "Redis | RedisCluster"
#: What runs the scripts: the lean client on a plain Redis, redis-py's on a cluster.
ScriptClient: TypeAlias = "FastRedis | Redis | RedisCluster"


def rate_key(key: str) -> str:
    return f"bella:{{{key}}}:rl"


def lease_key(key: str) -> str:
    return f"bella:{{{key}}}:lease"


def tokens_key(key: str) -> str:
    return f"bella:{{{key}}}:tpm"


def tokens_sum_key(key: str) -> str:
    return f"bella:{{{key}}}:tpm:sum"


def micros(seconds: float) -> int:
    return max(round(seconds * 1_000_000), 1)


async def run_script(
    script: Script | AsyncScript, keys: Sequence[str], args: Sequence[str | int]
) -> Any:
    """Run a script; redis-py's exceptions and socket errors become ``RateLimitStoreError``."""
    try:
        return await script(keys=keys, args=args)
    except (RedisError, RedisClusterException, OSError) as exc:
        raise RateLimitStoreError(f"{type(exc).__name__}: {exc}") from exc


def start_script(
    script: Script | AsyncScript, keys: Sequence[str], args: Sequence[str | int]
) -> asyncio.Future[Any] | None:
    """The script started now, to finish unawaited, when the client can (the lean one:
    its calls are futures); None for redis-py's, whose calls are coroutines. Its error is
    redis-py's: ``store_error`` maps it."""
    if type(script) is Script:
        return script(keys, args)
    return None


def store_error(exc: BaseException) -> BaseException:
    """What ``run_script`` raises for `exc`: a ``RateLimitStoreError`` for Redis's errors."""
    if isinstance(exc, (RedisError, RedisClusterException, OSError)):
        return RateLimitStoreError(f"{type(exc).__name__}: {exc}")
    return exc


class RedisLimiter:
    """``Limiter`` over Redis: an exact sliding log per key id (see ``ratelimit.lua``)."""

    def __init__(self, client: ScriptClient) -> None:
        self._hit = client.register_script(lua.HIT)

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        validate_key(key)
        validate_rate(limit, window_s)
        if not limit:
            return unlimited()
        allowed, wait_us, remaining = await run_script(
            self._hit, [rate_key(key)], [limit, micros(window_s)]
        )
        return Decision(bool(allowed), wait_us / 1_000_000, int(remaining))


class RedisLeases:
    """``Leases`` over Redis: a sorted set lease id -> expiry per key id."""

    def __init__(self, client: ScriptClient) -> None:
        self._acquire = client.register_script(lua.ACQUIRE)
        self._release = client.register_script("return redis.call('ZREM', KEYS[1], ARGV[1])")
        self._renew = client.register_script(lua.RENEW)
        self._count = client.register_script(lua.COUNT)

    async def acquire(self, key: str, lease_id: str, limit: int, ttl_s: float) -> bool:
        validate_key(key)
        validate_lease(limit, ttl_s)
        if not limit:
            return True
        taken = await run_script(self._acquire, [lease_key(key)], [lease_id, limit, micros(ttl_s)])
        return bool(taken)

    async def release(self, key: str, lease_id: str) -> None:
        validate_key(key)
        await run_script(self._release, [lease_key(key)], [lease_id])

    def start_release(self, key: str, lease_id: str) -> asyncio.Future[Any] | None:
        """``release`` started now, not awaited (``start_script``); None: await ``release``."""
        validate_key(key)
        return start_script(self._release, [lease_key(key)], [lease_id])

    async def renew(self, key: str, lease_ids: Sequence[str], ttl_s: float) -> None:
        validate_key(key)
        validate_lease(0, ttl_s)
        if lease_ids:
            await run_script(self._renew, [lease_key(key)], [micros(ttl_s), *lease_ids])

    async def count(self, key: str) -> int:
        validate_key(key)
        return int(await run_script(self._count, [lease_key(key)], []))
