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

The request path's calls (acquire, release, the key check) repeat one shape per key id but
for the lease id: ``Shaped`` encodes each shape once for the lean client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import RedisClusterException, RedisError

from ratelimit import lua, resp
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


#: What a Redis call raises when the store fails: redis-py's errors, socket errors.
_STORE_ERRORS = (RedisError, RedisClusterException, OSError)


def micros(seconds: float) -> int:
    return max(round(seconds * 1_000_000), 1)


async def run_script(
    script: Script | AsyncScript, keys: Sequence[str], args: Sequence[str | int]
) -> Any:
    """Run a script; redis-py's exceptions and socket errors become ``RateLimitStoreError``."""
    try:
        return await script(keys=keys, args=args)
    except _STORE_ERRORS as exc:
        raise store_error(exc) from exc


#: A call's Redis keys, its arguments before the open one (numkeys excluded) and after it.
Parts = tuple[list[str], list[str | int], list[str | int]]


class Shaped:
    """One script whose calls of one shape differ only in one argument (a lease id).

    On the lean client a shape's keys and other arguments are encoded once (``build`` runs
    on a miss only) and a call costs a concatenation; on redis-py's, ``build`` runs every
    call. The memo is cleared when it holds ``size`` shapes, so it stays bounded.
    """

    def __init__(self, script: Script | AsyncScript, size: int = 1024) -> None:
        self._script = script
        self._lean = script if type(script) is Script else None
        self._templates: dict[Hashable, resp.Template] = {}
        self._size = size

    async def run(self, shape: Hashable, build: Callable[[], Parts], value: str) -> Any:
        """Run it; redis-py's exceptions become ``RateLimitStoreError`` (``run_script``)."""
        lean = self._lean
        try:
            if lean is not None:
                return await self._send(lean, shape, build, value)
            keys, before, after = build()
            return await self._script(keys=keys, args=[*before, value, *after])
        except _STORE_ERRORS as exc:
            raise store_error(exc) from exc

    def start(
        self, shape: Hashable, build: Callable[[], Parts], value: str
    ) -> asyncio.Future[Any] | None:
        """Started now, to finish unawaited: the lean client's calls are futures; redis-py's
        are coroutines, so None there (await ``run``). Its error is redis-py's (``store_error``
        maps it)."""
        lean = self._lean
        return None if lean is None else self._send(lean, shape, build, value)

    def _send(
        self, lean: Script, shape: Hashable, build: Callable[[], Parts], value: str
    ) -> asyncio.Future[Any]:
        """The call on the lean client: the shape's template (built on a miss), filled."""
        template = self._templates.get(shape)
        if template is None:
            keys, before, after = build()
            template = resp.Template.of([len(keys), *keys, *before], after)
            if len(self._templates) >= self._size:
                self._templates.clear()
            self._templates[shape] = template
        return lean.run_filled(template, value)


def store_error(exc: BaseException) -> BaseException:
    """What ``run_script`` raises for `exc`: a ``RateLimitStoreError`` for Redis's errors."""
    if isinstance(exc, _STORE_ERRORS):
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
        self._acquire = Shaped(client.register_script(lua.ACQUIRE))
        self._release = Shaped(
            client.register_script("return redis.call('ZREM', KEYS[1], ARGV[1])")
        )
        self._renew = client.register_script(lua.RENEW)
        self._count = client.register_script(lua.COUNT)

    async def acquire(self, key: str, lease_id: str, limit: int, ttl_s: float) -> bool:
        validate_key(key)
        validate_lease(limit, ttl_s)
        if not limit:
            return True

        def build() -> Parts:
            return [lease_key(key)], [], [limit, micros(ttl_s)]

        return bool(await self._acquire.run((key, limit, ttl_s), build, lease_id))

    async def release(self, key: str, lease_id: str) -> None:
        validate_key(key)
        await self._release.run(key, partial(_release_parts, key), lease_id)

    def start_release(self, key: str, lease_id: str) -> asyncio.Future[Any] | None:
        """``release`` started now, not awaited (``Shaped.start``); None: await ``release``."""
        validate_key(key)
        return self._release.start(key, partial(_release_parts, key), lease_id)

    async def renew(self, key: str, lease_ids: Sequence[str], ttl_s: float) -> None:
        validate_key(key)
        validate_lease(0, ttl_s)
        if lease_ids:
            await run_script(self._renew, [lease_key(key)], [micros(ttl_s), *lease_ids])

    async def count(self, key: str) -> int:
        validate_key(key)
        return int(await run_script(self._count, [lease_key(key)], []))


def _release_parts(key: str) -> Parts:
    return [lease_key(key)], [], []
