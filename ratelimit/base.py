"""The rate-limit vocabulary: decisions, checks and the interfaces both backends implement.

Two backends implement every Protocol here: ``ratelimit.memory`` (one process, embedded mode)
and ``ratelimit.redis`` (many gateway processes sharing one Redis or Redis Cluster).

Shared contracts:

- A limit of ``0`` means unlimited: the call passes and nothing is recorded.
- A rejected call consumes nothing (no hit recorded, no lease taken, no tokens reserved).
- ``retry_after`` is in seconds and is > 0 whenever something was rejected.
- Key ids are opaque non-empty strings (``ak-…`` for API keys, ``ch-…`` for channels).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Clock = Callable[[], float]
Reason = Literal["qps", "concurrency"]

#: ``Decision.remaining`` / ``CheckResult.remaining`` when no limit applies.
UNLIMITED = -1
#: Window of a QPS limit and of an RPM limit, in seconds.
QPS_WINDOW_S = 1.0
RPM_WINDOW_S = 60.0
#: Window of the tokens-per-minute budget, in seconds.
TOKENS_WINDOW_S = 60.0
#: A rejected concurrency check suggests retrying after at most this many seconds: leases are
#: usually released long before they expire, so the earliest expiry is only an upper bound.
CONCURRENCY_RETRY_CAP_S = 1.0
#: Lease lifetime used by ``Check`` unless told otherwise (renew it while a request runs).
DEFAULT_LEASE_TTL_S = 60.0


class RateLimitStoreError(Exception):
    """The shared store (Redis) failed: unreachable, timed out, or replied with an error.

    The caller decides whether to fail open or closed.
    """


# Not frozen: built per request (docs/architecture.md, 'Per-request records').
@dataclass(slots=True)
class Decision:
    """The outcome of one rate-limited call."""

    allowed: bool
    retry_after: float
    remaining: int


# Not frozen: built per request (docs/architecture.md, 'Per-request records').
@dataclass(slots=True)
class Check:
    """The limits of one key id for one request, evaluated together by ``KeyChecks.check``.

    ``rate_limit`` requests per ``window_s`` (1 s for QPS, 60 s for RPM; 0 = no rate check);
    ``concurrency`` in-flight requests, each holding the lease ``lease_id`` for ``lease_ttl_s``
    (0 = no concurrency check). A key id keeps one window: its sliding log is pruned with the
    window of the call at hand.
    """

    key: str
    rate_limit: int = 0
    window_s: float = QPS_WINDOW_S
    concurrency: int = 0
    lease_id: str = ""
    lease_ttl_s: float = DEFAULT_LEASE_TTL_S

    def __post_init__(self) -> None:
        if (  # one test on the request path; the validators say what is wrong
            not self.key
            or self.rate_limit < 0
            or self.window_s <= 0
            or self.concurrency < 0
            or self.lease_ttl_s <= 0
            or (self.concurrency and not self.lease_id)
        ):
            validate_key(self.key)
            validate_rate(self.rate_limit, self.window_s)
            validate_lease(self.concurrency, self.lease_ttl_s)
            raise ValueError("a concurrency check needs a lease_id")


# Not frozen: built per request (docs/architecture.md, 'Per-request records').
@dataclass(slots=True)
class CheckResult:
    """The outcome of ``KeyChecks.check``: all checks passed, or the first one that failed.

    ``reason`` is ``"qps"`` for the request-rate check (QPS or RPM window) and
    ``"concurrency"`` for the concurrent-request check; ``failed_key`` names its key id.
    ``remaining`` is the smallest rate allowance left among the rate checks after this request
    (``UNLIMITED`` when none applies).
    """

    allowed: bool
    reason: Reason | None = None
    retry_after: float = 0.0
    failed_key: str = ""
    remaining: int = UNLIMITED


class Limiter(Protocol):
    """A sliding-window limiter: at most ``limit`` accepted hits in any ``window_s`` span."""

    async def hit(self, key: str, limit: int, window_s: float) -> Decision: ...


class Leases(Protocol):
    """Concurrency leases: at most ``limit`` live lease ids per key, each with an expiry."""

    async def acquire(self, key: str, lease_id: str, limit: int, ttl_s: float) -> bool: ...

    async def release(self, key: str, lease_id: str) -> None: ...

    async def renew(self, key: str, lease_ids: Sequence[str], ttl_s: float) -> None: ...

    async def count(self, key: str) -> int: ...


class KeyChecks(Protocol):
    """A request's per-key checks in one atomic step (one Redis round trip per cluster slot).

    Leases taken by ``check`` are released through ``leases.release`` (or ``release``) and
    renewed through ``leases.renew``.
    """

    @property
    def leases(self) -> Leases: ...

    async def check(self, checks: Sequence[Check]) -> CheckResult: ...

    async def release(self, checks: Sequence[Check]) -> None: ...

    async def reserve(self, key: str, tokens: int, limit_per_min: int) -> Decision: ...

    async def reconcile(self, key: str, reserved: int, actual: int) -> None: ...


def validate_key(key: str) -> None:
    if not key:
        raise ValueError("a rate-limit key id must not be empty")


def validate_rate(limit: int, window_s: float) -> None:
    if limit < 0:
        raise ValueError(f"rate limit must be >= 0, got {limit}")
    if window_s <= 0:
        raise ValueError(f"window must be > 0 seconds, got {window_s}")


def validate_lease(limit: int, ttl_s: float) -> None:
    if limit < 0:
        raise ValueError(f"concurrency limit must be >= 0, got {limit}")
    if ttl_s <= 0:
        raise ValueError(f"lease ttl must be > 0 seconds, got {ttl_s}")


def validate_tokens(tokens: int, limit_per_min: int) -> None:
    if tokens < 0 or limit_per_min < 0:
        raise ValueError("token counts and budgets must be >= 0")


def unlimited() -> Decision:
    return Decision(allowed=True, retry_after=0.0, remaining=UNLIMITED)


def smaller_remaining(remaining: int, other: int) -> int:
    """The smaller of two allowances, where ``UNLIMITED`` is larger than any."""
    return other if remaining == UNLIMITED else min(remaining, other)
