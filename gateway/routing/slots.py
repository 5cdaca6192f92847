"""Per-channel concurrency slots: leases counted globally in Redis, or in process.

Invariants:

- A channel with `max_concurrency` N has at most N live leases in its sorted set
  `bella:{ch:<code>}:lease` (ratelimit's lease layout: lease id -> expiry, Redis TIME µs).
  The lease id is the request id. Taking one is one EVALSHA (`ratelimit.RedisLeases`).
  `max_concurrency` 0 means unlimited: no lease, no Redis call; the lease is only counted
  in process for the live state.
- Every lease this process holds is in `_held` from its acquire until its release; one
  task renews them all every third of the TTL, so a lease outlives its request only if the
  process died, and then by at most the TTL.
- `release` never awaits: it drops the lease from `_held`, gives a local lease back at once
  and starts the Redis release (the lean client sends it with the next write and the
  outbox watches it; with redis-py's client the outbox's task runs it), so a cancelled
  handler cannot skip it. Releasing a lease of a full channel publishes
  `f|<process>|<code>` on the routing bus in the same script, which wakes the waiters of
  other processes; the waiters of this one are woken once the release is done.
- Redis failures (`RateLimitStoreError`) open a circuit for `retry_s`. Meanwhile fail-open
  takes leases from a per-process `MemoryLeases` (so up to N per process, logged and
  counted), fail-closed answers 503. The first call after `retry_s` tries Redis again, so
  both recover by themselves when Redis returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any

from gateway.catalog import Route
from gateway.errors import ServiceUnavailable
from gateway.routing.bus import CHANNEL, freed
from gateway.routing.outbox import Outbox
from gateway.routing.quietlog import QuietLog
from ratelimit import Clock, MemoryLeases, RateLimitStoreError, RedisLeases, ScriptClient
from ratelimit.redis import Parts, Shaped, lease_key

log = logging.getLogger(__name__)

#: KEYS: lease zset. ARGV: lease id, limit, bus channel, message -> 1 removed, 0 not held.
#: Publishes only when the set was full (counting not-yet-pruned expired leases): a release
#: below the limit cannot unblock anyone who saw the channel full.
RELEASE = """
local before = redis.call('ZCARD', KEYS[1])
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed == 1 and before >= tonumber(ARGV[2]) then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return removed
"""


class Backend(Enum):
    NONE = "none"  # unlimited channel: nothing to take or give back
    SHARED = "redis"
    LOCAL = "memory"


# Not frozen: built per request (docs/architecture.md, 'Per-request records').
@dataclass(slots=True)
class Lease:
    route: Route
    lease_id: str
    backend: Backend


def slot_id(code: str) -> str:
    """The rate-limit key id of a channel's slots (`bella:{ch:<code>}:lease`)."""
    return f"ch:{code}"


class RedisSlots:
    """Leases in Redis, with a release that tells the other processes."""

    def __init__(self, client: ScriptClient, process: str) -> None:
        self.leases = RedisLeases(client)
        self._release = Shaped(client.register_script(RELEASE))
        self._process = process

    async def release(self, route: Route, lease_id: str) -> None:
        await self._release.run(*self._release_call(route), lease_id)

    def start_release(self, route: Route, lease_id: str) -> asyncio.Future[Any] | None:
        """``release`` started now, not awaited (the lean client only); None: await it."""
        return self._release.start(*self._release_call(route), lease_id)

    def _release_call(self, route: Route) -> tuple[tuple[str, int], Callable[[], Parts]]:
        code, limit = route.code, route.row.max_concurrency

        def build() -> Parts:
            return [lease_key(slot_id(code))], [], [limit, CHANNEL, freed(self._process, code)]

        return (code, limit), build


class Circuit:
    """Whether to use Redis now; opened by a failure for `retry_s`, closed by a success."""

    def __init__(self, retry_s: float, *, clock: Clock = time.monotonic) -> None:
        self._retry_s = retry_s
        self._clock = clock
        self._open_until = 0.0
        self.down = False
        self.failures = 0
        self._log = QuietLog(log)

    def usable(self) -> bool:
        return not self.down or self._clock() >= self._open_until

    def failed(self, exc: Exception) -> None:
        self.failures += 1
        self.down = True
        self._open_until = self._clock() + self._retry_s
        self._log.warning("Redis failed for routing slots: %s", exc)

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            log.warning("Redis is back: routing slots are global again")


class SlotPool:
    def __init__(
        self,
        *,
        shared: RedisSlots | None,
        outbox: Outbox,
        ttl_s: float,
        fail_closed: bool,
        retry_s: float,
        on_free: Callable[[Route], None],
    ) -> None:
        self._shared = shared
        self._local = MemoryLeases()
        self._outbox = outbox
        self._ttl_s = ttl_s
        self._fail_closed = fail_closed
        self._on_free = on_free
        self.circuit = Circuit(retry_s)
        self._held: dict[str, dict[str, Lease]] = {}
        self.local_fallbacks = 0

    async def acquire(self, route: Route, lease_id: str) -> Lease | None:
        """A slot on `route`, or None when it is full (one Redis round trip at most)."""
        limit = route.row.max_concurrency
        if not limit:
            return self._hold(Lease(route, lease_id, Backend.NONE))
        key = slot_id(route.code)
        shared = self._shared
        if shared is not None:
            if self.circuit.usable():
                try:
                    taken = await shared.leases.acquire(key, lease_id, limit, self._ttl_s)
                except RateLimitStoreError as exc:
                    self.circuit.failed(exc)
                except asyncio.CancelledError:  # Redis may have granted it: give it back
                    self._outbox.post(lambda: shared.release(route, lease_id))
                    raise
                else:
                    self.circuit.succeeded()
                    return self._hold(Lease(route, lease_id, Backend.SHARED)) if taken else None
            if self._fail_closed:
                raise ServiceUnavailable(
                    "The gateway cannot reach Redis to count concurrency slots.",
                    code="service_unavailable",
                    retry_after=1.0,
                )
            self.local_fallbacks += 1
        if self._local.acquire_now(key, lease_id, limit, self._ttl_s):
            return self._hold(Lease(route, lease_id, Backend.LOCAL))
        return None

    def release(self, lease: Lease) -> None:
        """Give the slot back; never awaits, so it holds in `finally` under cancellation."""
        code = lease.route.code
        held = self._held.get(code)
        if held is not None and held.pop(lease.lease_id, None) is not None and not held:
            del self._held[code]
        shared = self._shared
        if lease.backend is Backend.SHARED and shared is not None:
            started = shared.start_release(lease.route, lease.lease_id)
            if started is None:
                self._outbox.post(lambda: self._release_shared(lease))
            else:
                self._outbox.started(started, partial(self._released, lease.route))
        elif lease.backend is Backend.LOCAL:
            self._local.release_now(slot_id(code), lease.lease_id)
            self._on_free(lease.route)

    def held(self, code: str) -> int:
        """Leases this process holds on the channel now."""
        return len(self._held.get(code, ()))

    async def in_use(self, route: Route) -> int:
        """Leases held on the channel by every process (Redis when it answers)."""
        key = slot_id(route.code)
        if self._shared is not None and self.circuit.usable():
            try:
                return await self._shared.leases.count(key)
            except RateLimitStoreError as exc:
                self.circuit.failed(exc)
        return await self._local.count(key)

    async def renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            await self.renew()

    async def renew(self) -> None:
        for code, held in list(self._held.items()):
            await self._renew(code, held)

    def _hold(self, lease: Lease) -> Lease:
        self._held.setdefault(lease.route.code, {})[lease.lease_id] = lease
        return lease

    async def _release_shared(self, lease: Lease) -> None:
        assert self._shared is not None
        try:
            await self._shared.release(lease.route, lease.lease_id)
        except RateLimitStoreError as exc:
            self._released(lease.route, exc)
        else:
            self._released(lease.route, None)

    def _released(self, route: Route, error: Exception | None) -> None:
        if error is None:
            self._on_free(route)
        elif isinstance(error, RateLimitStoreError):
            self.circuit.failed(error)
        else:
            log.error("releasing a slot of %s failed", route.code, exc_info=error)

    async def _renew(self, code: str, held: dict[str, Lease]) -> None:
        key = slot_id(code)
        shared = [i for i, lease in held.items() if lease.backend is Backend.SHARED]
        local = [i for i, lease in held.items() if lease.backend is Backend.LOCAL]
        if local:
            await self._local.renew(key, local, self._ttl_s)
        if shared and self._shared is not None:
            try:
                await self._shared.leases.renew(key, shared, self._ttl_s)
            except RateLimitStoreError as exc:
                self.circuit.failed(exc)
            else:
                self.circuit.succeeded()
