"""Console changes reach every gateway process within a second: Redis pub/sub, else at once.

The process that makes a change refreshes its own catalog (or forgets the key) before it
answers, then publishes on `bella:catalog` (text, the process id second so a process skips
its own messages):

    c|<process>            the catalog changed: refresh it
    k|<process>|<sha256>   a key changed: forget the cached row

Every process subscribes; a catalog message schedules one refresh (messages arriving during
a refresh coalesce into one more). After a (re)subscribe the catalog is refreshed, since
messages may have been missed; keys fall back to the key cache's own revalidation, and the
catalog to its 5 s refresh. Without Redis there is one process: the local step is all.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from functools import partial

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway import redisconn
from gateway.auth import KeyCache
from gateway.catalog import Catalog
from gateway.keys import CATALOG, INVALIDATION, KEYS, REDIS, SETTINGS
from gateway.routing.quietlog import QuietLog
from gateway.tasks import stop
from ratelimit import RedisClient

log = logging.getLogger(__name__)

CHANNEL = "bella:catalog"
RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 5.0


class Invalidation:
    def __init__(
        self,
        catalog: Catalog,
        keys: KeyCache,
        *,
        client: RedisClient | None = None,
        pubsub_client: Callable[[], Redis] | None = None,
    ) -> None:
        self._catalog = catalog
        self._keys = keys
        self._client = client
        self._pubsub_client = pubsub_client
        self.process = os.urandom(6).hex()
        self._dirty = False
        self._refresher: asyncio.Task[None] | None = None
        self._log = QuietLog(log)
        self.subscribed = asyncio.Event()

    async def catalog_changed(self) -> None:
        """Refresh here, now; then tell the other processes."""
        await self._catalog.refresh()
        await self._publish(f"c|{self.process}")

    async def key_changed(self, sha256: str) -> None:
        self._keys.forget(sha256)
        await self._publish(f"k|{self.process}|{sha256}")

    async def _publish(self, message: str) -> None:
        if self._client is None:
            return
        try:
            await self._client.publish(CHANNEL, message)
        except (RedisError, OSError) as exc:
            self._log.warning("console invalidation: publish failed (%r)", exc)

    def dispatch(self, data: bytes) -> None:
        """Apply one message from another process; our own and malformed ones are ignored."""
        kind, _, rest = data.decode("utf-8", "replace").partition("|")
        sender, _, sha256 = rest.partition("|")
        if sender == self.process:
            return
        if kind == "c":
            self.refresh_soon()
        elif kind == "k" and sha256:
            self._keys.forget(sha256)

    def refresh_soon(self) -> None:
        self._dirty = True
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh_while_dirty())

    async def _refresh_while_dirty(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await self._catalog.refresh()
            except Exception:
                log.exception("catalog refresh after a console change failed")

    async def listen_forever(self) -> None:
        """Subscribe and dispatch; on failure reconnect with a capped backoff."""
        delay = RECONNECT_MIN_S
        while True:
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                self._log.warning("console invalidation: pub/sub failed (%r); reconnecting", exc)
            delay = RECONNECT_MIN_S if self.subscribed.is_set() else min(delay * 2, RECONNECT_MAX_S)
            self.subscribed.clear()
            await asyncio.sleep(delay)

    async def _listen(self) -> None:
        assert self._pubsub_client is not None
        client = self._pubsub_client()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            self.subscribed.set()
            self.refresh_soon()  # whatever changed while we were not listening
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is not None and isinstance(message.get("data"), bytes):
                    self.dispatch(message["data"])
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed in redis 8.2
            await client.aclose()

    async def close(self) -> None:
        await stop(self._refresher)


async def _invalidation_ctx(app: web.Application) -> AsyncIterator[None]:
    redis = app[REDIS]
    pubsub = None if redis is None else partial(redisconn.pubsub_client, app[SETTINGS].redis)
    invalidation = Invalidation(app[CATALOG], app[KEYS], client=redis, pubsub_client=pubsub)
    app[INVALIDATION] = invalidation
    listener = None if redis is None else asyncio.create_task(invalidation.listen_forever())
    yield
    await stop(listener)
    await invalidation.close()


def setup(app: web.Application) -> None:
    """Call after the catalog, the key cache and Redis are set up."""
    app.cleanup_ctx.append(_invalidation_ctx)
