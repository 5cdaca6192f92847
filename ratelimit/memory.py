"""In-process sliding-window limiter and concurrency leases (embedded mode, one process).

Invariants:

- Sliding log: a key's accepted hits, oldest first. Before every decision the entries at or
  before ``now - window`` are dropped, so ``len(log)`` is the live count and a hit passes iff
  ``len(log) < limit``. Hence at most ``limit`` hits pass in any ``window`` span, also across
  what a fixed window would call a boundary. A rejected hit records nothing. Each entry is
  appended once and dropped once: O(1) amortised per hit, at most ``limit`` entries per key.
- Lease set: lease id -> expiry. ``next_expiry`` is a lower bound of the expiries, so a prune
  that finds ``now < next_expiry`` has nothing to drop and costs O(1).
- Idle keys: every table keeps keys in least-recently-touched order; each call forgets at
  most a couple of keys from the front whose last entry has expired, so memory follows the
  live keys without a sweeper task.
- No method awaits between reading and writing state, so every call is atomic on its loop.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from ratelimit.base import (
    CONCURRENCY_RETRY_CAP_S,
    Clock,
    Decision,
    unlimited,
    validate_key,
    validate_lease,
    validate_rate,
)

#: Idle keys forgotten per call at most (bounded work per call, still O(1)).
_EVICT_PER_CALL = 2


class _Expiring(Protocol):
    @property
    def expires_at(self) -> float: ...


E = TypeVar("E", bound=_Expiring)


class KeyTable(Generic[E]):
    """Per-key state in least-recently-touched order; idle expired keys are forgotten."""

    __slots__ = ("_factory", "_items")

    def __init__(self, factory: Callable[[], E]) -> None:
        self._factory = factory
        self._items: OrderedDict[str, E] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> E | None:
        return self._items.get(key)

    def touch(self, key: str, now: float | None = None) -> E:
        """The key's state, created if missing, marked most recently used; given `now`,
        idle keys expired by then are forgotten first (as `evict`)."""
        items = self._items
        if now is not None and items:
            self.evict(now)
        item = items.get(key)
        if item is None:
            item = items[key] = self._factory()
        else:
            items.move_to_end(key)
        return item

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def evict(self, now: float) -> None:
        items = self._items
        for _ in range(_EVICT_PER_CALL):
            if not items:
                return
            key = next(iter(items))
            if items[key].expires_at > now:
                return
            del items[key]


class SlidingLog:
    """The accepted hits of one key (timestamps, oldest first)."""

    __slots__ = ("expires_at", "stamps")

    def __init__(self) -> None:
        self.stamps: deque[float] = deque()
        self.expires_at = 0.0

    def prune(self, now: float, window_s: float) -> int:
        """Drop the hits that left the window; the live count."""
        stamps, cutoff = self.stamps, now - window_s
        if stamps and stamps[-1] <= cutoff:
            stamps.clear()
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()
        return len(stamps)

    def verdict(self, now: float, limit: int, window_s: float, pending: int = 0) -> Decision:
        """Would ``pending + 1`` more hits pass now? Records nothing."""
        recorded = self.prune(now, window_s)
        live = recorded + pending
        if live < limit:
            return Decision(True, 0.0, limit - live - 1)
        # The hit passes once the entries up to index ``live - limit`` have left the window;
        # the pending hits will be recorded at ``now``.
        blocking = live - limit
        oldest = self.stamps[blocking] if blocking < recorded else now
        return Decision(False, max(oldest + window_s - now, 1e-6), 0)

    def record(self, now: float, window_s: float) -> None:
        stamps = self.stamps
        stamp = max(now, stamps[-1]) if stamps else now
        stamps.append(stamp)
        self.expires_at = stamp + window_s


class LeaseSet:
    """The live leases of one key: lease id -> expiry."""

    __slots__ = ("expires_at", "expiry", "next_expiry")

    def __init__(self) -> None:
        self.expiry: dict[str, float] = {}
        self.next_expiry = float("inf")
        self.expires_at = 0.0

    def prune(self, now: float) -> int:
        if now >= self.next_expiry:
            self.expiry = {lid: exp for lid, exp in self.expiry.items() if exp > now}
            self.next_expiry = min(self.expiry.values(), default=float("inf"))
        return len(self.expiry)

    def fits(self, lease_id: str, limit: int, now: float, pending: int = 0) -> bool:
        """Could ``lease_id`` be held now (already held, or a free slot)? Records nothing."""
        held = self.prune(now) if now >= self.next_expiry else len(self.expiry)
        return held + pending < limit or lease_id in self.expiry

    def put(self, lease_id: str, expiry: float) -> None:
        self.expiry[lease_id] = expiry
        if expiry < self.next_expiry:  # comparisons, not min()/max(): once per request
            self.next_expiry = expiry
        if expiry > self.expires_at:
            self.expires_at = expiry

    def retry_after(self, now: float) -> float:
        earliest = min(self.expiry.values(), default=now)
        return min(max(earliest - now, 1e-3), CONCURRENCY_RETRY_CAP_S)


class MemoryLimiter:
    """``Limiter`` for one process: an exact sliding log per key."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.logs: KeyTable[SlidingLog] = KeyTable(SlidingLog)

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        return self.hit_now(key, limit, window_s, self.clock())

    def hit_now(self, key: str, limit: int, window_s: float, now: float) -> Decision:
        validate_key(key)
        validate_rate(limit, window_s)
        if not limit:
            return unlimited()
        log = self.logs.touch(key, now)
        decision = log.verdict(now, limit, window_s)
        if decision.allowed:
            log.record(now, window_s)
        return decision

    def peek(self, key: str, limit: int, window_s: float, now: float, pending: int) -> Decision:
        """Would ``pending + 1`` more hits on ``key`` pass now? Records nothing."""
        self.logs.evict(now)
        log = self.logs.get(key) or SlidingLog()
        return log.verdict(now, limit, window_s, pending)

    def record(self, key: str, window_s: float, now: float) -> None:
        self.logs.touch(key).record(now, window_s)


class MemoryLeases:
    """``Leases`` for one process: a lease set per key."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.sets: KeyTable[LeaseSet] = KeyTable(LeaseSet)

    async def acquire(self, key: str, lease_id: str, limit: int, ttl_s: float) -> bool:
        return self.acquire_now(key, lease_id, limit, ttl_s)

    def acquire_now(self, key: str, lease_id: str, limit: int, ttl_s: float) -> bool:
        """``acquire`` without awaiting: in process there is nothing to wait for."""
        if not key or limit < 0 or ttl_s <= 0:  # one test on the request path
            validate_key(key)
            validate_lease(limit, ttl_s)
        if not limit:
            return True
        now = self.clock()
        leases = self.sets.touch(key, now)  # one lookup to test and to take
        if not leases.fits(lease_id, limit, now):
            return False
        leases.put(lease_id, now + ttl_s)
        return True

    async def release(self, key: str, lease_id: str) -> None:
        self.release_now(key, lease_id)

    def release_now(self, key: str, lease_id: str) -> None:
        """``release`` without awaiting: in process there is nothing to wait for."""
        leases = self.sets.get(key)
        if leases is None:
            return
        leases.expiry.pop(lease_id, None)
        if not leases.expiry:
            self.sets.forget(key)

    async def renew(self, key: str, lease_ids: Sequence[str], ttl_s: float) -> None:
        validate_lease(0, ttl_s)
        leases = self.sets.get(key)
        if leases is None:
            return
        now = self.clock()
        leases.prune(now)
        for lease_id in lease_ids:
            if lease_id in leases.expiry:
                leases.put(lease_id, now + ttl_s)

    async def count(self, key: str) -> int:
        leases = self.sets.get(key)
        return 0 if leases is None else leases.prune(self.clock())

    def fits(self, key: str, lease_id: str, limit: int, now: float, pending: int) -> bool:
        """Could ``key`` take ``lease_id`` (with ``pending`` other new leases)? Records nothing."""
        self.sets.evict(now)
        leases = self.sets.get(key)
        return pending < limit if leases is None else leases.fits(lease_id, limit, now, pending)

    def take(self, key: str, lease_id: str, expiry: float) -> None:
        self.sets.touch(key).put(lease_id, expiry)

    def retry_after(self, key: str, now: float) -> float:
        leases = self.sets.get(key)
        return CONCURRENCY_RETRY_CAP_S if leases is None else leases.retry_after(now)
