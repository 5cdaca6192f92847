"""Login attempts per client address and minute, on the shared limiter (`ratelimit`).

With Redis the count is shared by every gateway process; when Redis fails, each process
counts on its own until it is back (a login must not become impossible, nor unlimited).
"""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.errors import RateLimited
from ratelimit import Decision, Limiter, MemoryLimiter, RateLimitStoreError

log = logging.getLogger(__name__)

WINDOW_S = 60.0


class LoginThrottle:
    def __init__(self, shared: Limiter | None, per_minute: int) -> None:
        self._shared = shared
        self._local = MemoryLimiter()
        self._limit = per_minute

    async def check(self, request: web.Request) -> None:
        """Count one attempt from the request's address; `RateLimited` past the limit."""
        decision = await self._hit(f"login:{request.remote or 'unknown'}")
        if not decision.allowed:
            raise RateLimited(
                "Too many login attempts from your address; try again later.",
                code="login_rate_limited",
                retry_after=decision.retry_after,
            )

    async def _hit(self, key: str) -> Decision:
        if self._shared is not None:
            try:
                return await self._shared.hit(key, self._limit, WINDOW_S)
            except RateLimitStoreError as exc:
                log.warning("login throttle: Redis failed (%s); counting in process", exc)
        return await self._local.hit(key, self._limit, WINDOW_S)
