"""The shared Redis client as a resource: created from `redis.url` when set, closed at exit.

`app[REDIS]` is the client (`redis.asyncio.Redis` or `RedisCluster`) or None without Redis.
Connections open lazily, so a Redis that is down at start does not stop the gateway; each
user decides what a failure means (see `limits.redis_failure`). Commands fail fast: one
immediate retry (a pooled connection may have died with a restarted server), then the error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.keys import REDIS, SETTINGS
from gateway.settings import RedisSettings
from ratelimit import RedisClient, redis_from_url


def make_client(settings: RedisSettings) -> RedisClient:
    return redis_from_url(
        settings.url,
        socket_timeout=settings.timeout_s,
        socket_connect_timeout=settings.timeout_s,
        retry=Retry(NoBackoff(), 1),
    )


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
    app[REDIS] = client
    yield
    if client is not None:
        await client.aclose()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_redis_ctx)
