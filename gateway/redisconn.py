"""The shared Redis clients as a resource: created from `redis.url` when set, closed at exit.

`app[REDIS]` is the client (`redis.asyncio.Redis` or `RedisCluster`) or None without Redis.
Connections open lazily, so a Redis that is down at start does not stop the gateway; each
user decides what a failure means (see `limits.redis_failure`). Commands fail fast: one
immediate retry (a pooled connection may have died with a restarted server), then the error.

`app[REDIS_SCRIPTS]` runs the request path's scripts (key checks, channel slots, the routing
bus). On a plain Redis it is the lean `FastRedis` (one auto-pipelined connection, a fraction
of redis-py's CPU per call, no retry: a failed call is a failed call); on a cluster it is
`app[REDIS]` itself, since only redis-py's `RedisCluster` routes commands by slot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.keys import REDIS, REDIS_SCRIPTS, SETTINGS
from gateway.settings import RedisSettings
from ratelimit import FastRedis, RedisClient, ScriptClient, redis_from_url


def make_client(settings: RedisSettings) -> RedisClient:
    return redis_from_url(
        settings.url,
        socket_timeout=settings.timeout_s,
        socket_connect_timeout=settings.timeout_s,
        retry=Retry(NoBackoff(), 1),
    )


def script_client(settings: RedisSettings, shared: RedisClient) -> ScriptClient:
    """The client of the hot-path scripts: `shared` on a cluster, else a new `FastRedis`."""
    if isinstance(shared, RedisCluster):
        return shared
    return FastRedis.from_url(settings.url, timeout_s=settings.timeout_s)


def pubsub_client(settings: RedisSettings) -> Redis:
    """A plain client for pub/sub: on a cluster URL, one connection to its seed node.

    Classic PUBLISH is broadcast to every node over the cluster bus, so a subscriber on any
    one node hears every message, whichever node it was published on.
    """
    scheme, _, rest = settings.url.partition("://")
    plain = scheme.replace("+cluster", "")
    client: Redis = Redis.from_url(
        f"{plain}://{rest}",
        socket_connect_timeout=settings.timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
    return client


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS].redis
    client = make_client(settings) if settings.url else None
    scripts = None if client is None else script_client(settings, client)
    app[REDIS] = client
    app[REDIS_SCRIPTS] = scripts
    yield
    if scripts is not None and scripts is not client:
        await scripts.aclose()
    if client is not None:
        await client.aclose()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_redis_ctx)
