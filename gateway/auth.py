"""Bearer auth through an in-process cache: after a key's first sight, no SQL on the path.

Known keys are kept and revalidated in the background after `ttl_s`; unknown hashes are
remembered briefly (bounded) so a flood of bad keys cannot turn into a flood of queries.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable

from aiohttp import web

from gateway.errors import AuthenticationFailed, PermissionDenied
from gateway.keys import APIKEY, KEYS, STORE
from gateway.roles import ROLES
from gateway.store.base import Store
from gateway.store.records import ApiKey
from gateway.tasks import stop

log = logging.getLogger(__name__)

NEGATIVE_TTL_S = 5.0
NEGATIVE_MAX = 10_000


class KeyCache:
    def __init__(self, store: Store, *, ttl_s: float = 5.0) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[ApiKey, float]] = {}
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._refreshing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def peek(self, secret: str) -> tuple[ApiKey | None, str]:
        """`(key or None, "")` when the cache knows the answer, else `(None, digest)` to
        `load`: the common case costs no coroutine."""
        digest = hashlib.sha256(secret.encode()).hexdigest()
        now = time.monotonic()
        hit = self._known.get(digest)
        if hit is not None:
            if now - hit[1] > self._ttl_s and digest not in self._refreshing:
                self._refresh_later(digest)
            return hit[0], ""
        seen = self._unknown.get(digest)
        if seen is not None and now - seen < NEGATIVE_TTL_S:
            return None, ""
        return None, digest

    def forget(self, sha256: str) -> None:
        self._known.pop(sha256, None)

    async def load(self, digest: str) -> ApiKey | None:
        """The key with this sha256 from the store, remembered either way."""
        row = await self._store.apikey_by_hash(digest)
        if row is None:
            self._known.pop(digest, None)
            self._unknown[digest] = time.monotonic()
            self._unknown.move_to_end(digest)
            while len(self._unknown) > NEGATIVE_MAX:
                self._unknown.popitem(last=False)
        else:
            self._known[digest] = (row, time.monotonic())
        return row

    def _refresh_later(self, digest: str) -> None:
        self._refreshing.add(digest)
        task = asyncio.create_task(self._refresh(digest))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, digest: str) -> None:
        try:
            await self.load(digest)
        except Exception:
            log.exception("refreshing an API key failed; keeping the cached row")
        finally:
            self._refreshing.discard(digest)

    async def close(self) -> None:
        await stop(*self._tasks)


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "Missing API key: send it as 'Authorization: Bearer sk-…'.", code="missing_api_key"
        )
    return token.strip()


def authenticate(request: web.Request) -> Awaitable[ApiKey]:
    """Await it for the request's key, checked for status and for the path its role allows."""
    return authenticate_secret(request, bearer(request))


async def authenticate_secret(request: web.Request, secret: str) -> ApiKey:
    """As `authenticate`, for a key sent some other way (a WebSocket subprotocol)."""
    cache = request.app[KEYS]
    key, digest = cache.peek(secret)
    if digest:
        key = await cache.load(digest)
    if key is None:
        raise AuthenticationFailed("Incorrect API key provided.")
    if key.status != "active":
        raise AuthenticationFailed("This API key has been deactivated.", code="api_key_disabled")
    role = ROLES.get(key.role)
    if role is None or not role.allows(request.path):
        raise PermissionDenied(f"The key's role '{key.role}' may not call {request.path}.")
    request[APIKEY] = key
    return key


async def _key_cache_ctx(app: web.Application) -> AsyncIterator[None]:
    cache = KeyCache(app[STORE])
    app[KEYS] = cache
    yield
    await cache.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_key_cache_ctx)
