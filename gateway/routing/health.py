"""Channel health: cooldowns, and the error-rate window that can start one. No I/O.

Invariants:

- A channel is cooling down while `now < until[code]` (monotonic seconds). A cooldown only
  ever extends: `cool` keeps the later of the current and the new end, so a short cooldown
  heard from another process cannot cut a longer local one.
- The error window counts attempt outcomes in buckets of `window / BUCKETS` seconds; buckets
  older than the window are dropped before every read, so `totals()` covers the last window
  (to one bucket's precision). A window that trips is cleared, so the same errors cannot
  trip it again when the cooldown ends.
- Client errors (non-retryable upstream errors) are not the channel's fault: not counted.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from adapters.errors import UpstreamError, UpstreamRateLimited, UpstreamUnavailable
from ratelimit import Clock

BUCKETS = 12


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    cooldown_s: float = 30.0  # after a 429 without Retry-After, and after an error-rate trip
    unreachable_cooldown_s: float = 10.0  # after a connection that could not be made
    window_s: float = 60.0
    min_requests: int = 10
    error_rate: float = 0.3


class ErrorWindow:
    """Outcomes over a sliding window, in fixed buckets: `[start, total, errors]`."""

    __slots__ = ("_buckets", "_width", "_window")

    def __init__(self, window_s: float) -> None:
        self._window = window_s
        self._width = window_s / BUCKETS
        self._buckets: deque[list[float]] = deque()

    def add(self, now: float, error: bool) -> None:
        buckets = self._buckets
        if not buckets or now >= buckets[-1][0] + self._width:
            buckets.append([now, 0, 0])
        last = buckets[-1]
        last[1] += 1
        last[2] += error

    def totals(self, now: float) -> tuple[int, int]:
        """(requests, errors) in the window ending at `now`."""
        buckets, cutoff = self._buckets, now - self._window
        while buckets and buckets[0][0] + self._width <= cutoff:
            buckets.popleft()
        return int(sum(b[1] for b in buckets)), int(sum(b[2] for b in buckets))

    def clear(self) -> None:
        self._buckets.clear()


class Health:
    """Cooldowns per channel code; `report` turns attempt outcomes into cooldowns."""

    def __init__(self, policy: HealthPolicy, *, clock: Clock = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self._until: dict[str, float] = {}
        self._windows: dict[str, ErrorWindow] = {}

    def quiet(self, now: float) -> bool:
        """No channel is cooling down now (expired cooldowns are dropped on the way)."""
        if not self._until:
            return True
        for code, until in list(self._until.items()):
            if until <= now:
                del self._until[code]
        return not self._until

    def cooling(self, code: str, now: float) -> bool:
        until = self._until.get(code)
        return until is not None and now < until

    def until(self, code: str) -> float:
        """Monotonic end of the channel's cooldown (0.0: none)."""
        return self._until.get(code, 0.0)

    def cool(self, code: str, seconds: float, now: float) -> bool:
        """Cool `code` for `seconds` from `now`; False when a later cooldown already runs."""
        end = now + seconds
        if seconds <= 0 or end <= self._until.get(code, 0.0):
            return False
        self._until[code] = end
        return True

    def report(self, code: str, error: UpstreamError | None) -> float:
        """Record an attempt's outcome; the cooldown it starts, in seconds (0.0: none)."""
        if error is not None and not error.retryable:
            return 0.0
        now = self.clock()
        window = self._windows.get(code)
        if window is None:
            window = self._windows[code] = ErrorWindow(self.policy.window_s)
        if error is None:  # a success starts no cooldown
            window.add(now, False)
            return 0.0
        window.add(now, True)
        seconds = self._cooldown_for(error)
        if not seconds and self._tripped(window, now):
            seconds = self.policy.cooldown_s
        if seconds and self.cool(code, seconds, now):
            window.clear()
            return seconds
        return 0.0

    def _cooldown_for(self, error: UpstreamError) -> float:
        if isinstance(error, UpstreamRateLimited):
            return error.retry_after or self.policy.cooldown_s
        if isinstance(error, UpstreamUnavailable):
            return self.policy.unreachable_cooldown_s
        return 0.0

    def _tripped(self, window: ErrorWindow, now: float) -> bool:
        total, errors = window.totals(now)
        policy = self.policy
        return total >= policy.min_requests and errors >= policy.error_rate * total
