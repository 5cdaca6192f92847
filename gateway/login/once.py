"""Single use of login states: a state seen once is refused for as long as it could be valid.

With Redis the mark is `SET NX EX` on a hash of the state, so it holds across processes;
without, a dict in this process (embedded mode), pruned as marks expire.
"""

from __future__ import annotations

import hashlib
import time

from redis.exceptions import RedisError

from gateway.errors import ServiceUnavailable
from ratelimit import RedisClient


class Once:
    def __init__(self, client: RedisClient | None, ttl_s: float) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._seen: dict[str, float] = {}

    async def first_use(self, state: str) -> bool:
        """True the first time `state` is presented, False ever after (within the TTL)."""
        digest = hashlib.sha256(state.encode()).hexdigest()
        if self._client is None:
            return self._first_local(digest)
        try:
            marked = await self._client.set(
                f"bella:login:used:{digest}", "1", nx=True, ex=max(int(self._ttl_s), 1)
            )
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable("The gateway cannot reach Redis to log you in.") from exc
        return bool(marked)

    def _first_local(self, digest: str) -> bool:
        now = time.monotonic()
        for old in [d for d, until in self._seen.items() if until <= now]:
            del self._seen[old]
        if digest in self._seen:
            return False
        self._seen[digest] = now + self._ttl_s
        return True
