"""In-process ``KeyChecks``: a request's rate and concurrency checks, all or nothing.

Invariants:

- ``check`` first evaluates every check without recording anything, counting the hits and
  leases this very call would add (``pending``) so that two checks on one key id see each
  other; only when all pass does it record the hits and take the leases. Nothing awaits in
  between, so the step is atomic on the event loop.
- Token budget (tokens per minute): a sliding log of reservations ``(stamp, tokens)`` with a
  running total. ``reserve`` passes iff ``total + tokens <= limit``; ``reconcile`` rewrites
  the most recent live reservation of exactly ``reserved`` tokens to ``actual`` (or, when it
  has already left the window, records only the overshoot), so a reservation always leaves
  the window at the time it was made.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

from ratelimit.base import (
    TOKENS_WINDOW_S,
    UNLIMITED,
    Check,
    CheckResult,
    Clock,
    Decision,
    smaller_remaining,
    unlimited,
    validate_key,
    validate_tokens,
)
from ratelimit.memory import KeyTable, MemoryLeases, MemoryLimiter


class TokenLog:
    """Token reservations of one key in the last minute, oldest first."""

    __slots__ = ("expires_at", "stamps", "tokens", "total")

    def __init__(self) -> None:
        self.stamps: deque[float] = deque()
        self.tokens: deque[int] = deque()
        self.total = 0
        self.expires_at = 0.0

    def prune(self, now: float) -> int:
        cutoff = now - TOKENS_WINDOW_S
        while self.stamps and self.stamps[0] <= cutoff:
            self.stamps.popleft()
            self.total -= self.tokens.popleft()
        return self.total

    def add(self, now: float, tokens: int) -> None:
        self.stamps.append(now)
        self.tokens.append(tokens)
        self.total += tokens
        self.expires_at = now + TOKENS_WINDOW_S

    def rewrite(self, reserved: int, actual: int) -> bool:
        """Set the newest reservation of ``reserved`` tokens to ``actual``; False if none."""
        for index in range(len(self.tokens) - 1, -1, -1):
            if self.tokens[index] == reserved:
                self.tokens[index] = actual
                self.total += actual - reserved
                return True
        return False

    def retry_after(self, now: float, room_needed: int) -> float:
        """Seconds until ``total`` drops to ``room_needed`` or below."""
        total = self.total
        for stamp, tokens in zip(self.stamps, self.tokens, strict=True):
            total -= tokens
            if total <= room_needed:
                return max(stamp + TOKENS_WINDOW_S - now, 1e-6)
        return TOKENS_WINDOW_S


class MemoryKeyChecks:
    """``KeyChecks`` for one process, over a ``MemoryLimiter`` and ``MemoryLeases``."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        limiter: MemoryLimiter | None = None,
        leases: MemoryLeases | None = None,
    ) -> None:
        self.clock = clock
        self.limiter = limiter or MemoryLimiter(clock=clock)
        self._leases = leases or MemoryLeases(clock=clock)
        self.budgets: KeyTable[TokenLog] = KeyTable(TokenLog)

    @property
    def leases(self) -> MemoryLeases:
        return self._leases

    async def check(self, checks: Sequence[Check]) -> CheckResult:
        return self.check_now(checks)

    def check_now(self, checks: Sequence[Check]) -> CheckResult:
        """``check`` without awaiting: in process there is nothing to wait for."""
        now = self.clock()
        if len(checks) == 1:  # a request's usual lot: one key, nothing pending to count
            return self._check_one(checks[0], now)
        result = self._evaluate(checks, now)
        if result.allowed:
            self._commit(checks, now)
        return result

    async def release(self, checks: Sequence[Check]) -> None:
        self.release_now(checks)

    def release_now(self, checks: Sequence[Check]) -> None:
        """``release`` without awaiting: in process there is nothing to wait for."""
        for check in checks:
            if check.concurrency:
                self._leases.release_now(check.key, check.lease_id)

    async def reserve(self, key: str, tokens: int, limit_per_min: int) -> Decision:
        """Reserve ``tokens`` of the key's tokens-per-minute budget before a request."""
        validate_key(key)
        validate_tokens(tokens, limit_per_min)
        if not limit_per_min:
            return unlimited()
        now = self.clock()
        log = self.budgets.touch(key, now)
        total = log.prune(now)
        if total + tokens <= limit_per_min:
            log.add(now, tokens)
            return Decision(True, 0.0, limit_per_min - total - tokens)
        if tokens > limit_per_min:
            return Decision(False, TOKENS_WINDOW_S, max(limit_per_min - total, 0))
        return Decision(False, log.retry_after(now, limit_per_min - tokens), limit_per_min - total)

    async def reconcile(self, key: str, reserved: int, actual: int) -> None:
        """Replace a reservation by the tokens actually used (``reserved=0``: just record)."""
        validate_tokens(reserved, actual)
        if actual == reserved:
            return
        now = self.clock()
        log = self.budgets.touch(key)
        log.prune(now)
        if not log.rewrite(reserved, actual) and actual > reserved:
            log.add(now, actual - reserved)

    def _evaluate(self, checks: Sequence[Check], now: float) -> CheckResult:
        # Plain dicts: a request usually has one or two checks, and Counter() costs more.
        hits: dict[str, int] = {}
        taken: dict[str, int] = {}
        remaining = UNLIMITED
        for check in checks:
            key = check.key
            if check.rate_limit:
                pending = hits.get(key, 0)
                decision = self.limiter.peek(key, check.rate_limit, check.window_s, now, pending)
                if not decision.allowed:
                    return CheckResult(False, "qps", decision.retry_after, key, 0)
                hits[key] = pending + 1
                remaining = smaller_remaining(remaining, decision.remaining)
            if check.concurrency:
                pending = taken.get(key, 0)
                if not self._lease_fits(check, now, pending):
                    retry = self._leases.retry_after(key, now)
                    return CheckResult(False, "concurrency", retry, key, 0)
                taken[key] = pending + 1
        return CheckResult(True, remaining=remaining)

    def _check_one(self, check: Check, now: float) -> CheckResult:
        """One check, evaluated and committed in one pass: nothing is recorded before both
        of its limits pass."""
        key = check.key
        remaining = UNLIMITED
        log = None
        if check.rate_limit:
            log = self.limiter.logs.touch(key, now)
            live = log.prune(now, check.window_s)
            if live >= check.rate_limit:  # rejected: the verdict tells when to retry
                retry = log.verdict(now, check.rate_limit, check.window_s).retry_after
                return CheckResult(False, "qps", retry, key, 0)
            remaining = check.rate_limit - live - 1
        if check.concurrency:
            leases = self._leases.sets.touch(key, now)  # one lookup to test and to take
            if not leases.fits(check.lease_id, check.concurrency, now):
                return CheckResult(False, "concurrency", leases.retry_after(now), key, 0)
            leases.put(check.lease_id, now + check.lease_ttl_s)
        if log is not None:
            log.record(now, check.window_s)
        return CheckResult(True, None, 0.0, "", remaining)

    def _lease_fits(self, check: Check, now: float, pending: int) -> bool:
        return self._leases.fits(check.key, check.lease_id, check.concurrency, now, pending)

    def _commit(self, checks: Sequence[Check], now: float) -> None:
        for check in checks:
            if check.rate_limit:
                self.limiter.record(check.key, check.window_s, now)
            if check.concurrency:
                self._leases.take(check.key, check.lease_id, now + check.lease_ttl_s)
