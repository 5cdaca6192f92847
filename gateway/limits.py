"""Per-key admission: monthly quota, QPS/RPM and concurrent requests, before any routing.

- Quota is read from the in-memory `QuotaBook`: no I/O.
- QPS and concurrency are one `KeyChecks.check` (one Redis round trip with Redis, a few
  microseconds in process), all or nothing: a rejected request records no hit and takes no
  lease. A key without limits costs nothing at all.
- The concurrency lease (lease id = request id) is released without awaiting, through the
  outbox, so a cancelled handler cannot skip it, and renewed by one task per process while
  long streams run; a process that dies leaks it for at most the lease TTL.
- Redis failures open a circuit: fail-open checks in process meanwhile, fail-closed answers
  503; the first call after `retry_s` tries Redis again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from gateway.errors import QuotaExceeded, RateLimited, ServiceUnavailable
from gateway.keys import LIMITS, REDIS_SCRIPTS, SETTINGS, STORE, USAGE
from gateway.quota import QuotaBook
from gateway.routing.outbox import Outbox
from gateway.routing.slots import Circuit
from gateway.store.records import ApiKey
from gateway.tasks import stop
from ratelimit import (
    QPS_WINDOW_S,
    Check,
    CheckResult,
    MemoryKeyChecks,
    RateLimitStoreError,
    RedisKeyChecks,
)


# Not frozen: built per request (docs/architecture.md, 'Per-request records').
@dataclass(slots=True)
class Admission:
    checks: tuple[Check, ...]
    shared: bool


NOTHING = Admission((), shared=False)


class KeyLimits:
    def __init__(
        self,
        *,
        shared: RedisKeyChecks | None,
        quota: QuotaBook,
        outbox: Outbox,
        lease_ttl_s: float,
        fail_closed: bool,
        retry_s: float,
    ) -> None:
        self._shared = shared
        self._local = MemoryKeyChecks()
        self.quota = quota
        self._outbox = outbox
        self._ttl_s = lease_ttl_s
        self._fail_closed = fail_closed
        self.circuit = Circuit(retry_s)
        self._held: dict[str, Admission] = {}
        self.rejected: dict[str, int] = {"qps": 0, "concurrency": 0, "quota": 0}

    async def admit(self, key: ApiKey, request_id: str) -> Admission:
        """Let the request in or raise 429; the admission must be `release`d in `finally`."""
        if key.parent_code or key.month_quota is not None:  # else no quota can apply
            quota = self.quota
            quota.learn(key)
            if quota.exhausted(key):
                self.rejected["quota"] += 1
                raise QuotaExceeded("This key has used its monthly quota.")
        if not key.qps and not key.concurrency:
            return NOTHING
        checks = (Check(key.code, key.qps, QPS_WINDOW_S, key.concurrency, request_id, self._ttl_s),)
        if self._shared is None:  # embedded: nothing to await
            admission = self._verdict(self._local.check_now(checks), checks, shared=False)
        else:
            admission = await self._check(checks)
        if key.concurrency:
            self._held[request_id] = admission
        return admission

    async def _check(self, checks: tuple[Check, ...]) -> Admission:
        shared = self._shared
        if shared is not None and self.circuit.usable():
            try:
                result = await shared.check(checks)
            except RateLimitStoreError as exc:
                self.circuit.failed(exc)
            except asyncio.CancelledError:
                self._outbox.post(lambda: shared.release(checks))
                raise
            else:
                self.circuit.succeeded()
                return self._verdict(result, checks, shared=True)
        if shared is not None and self._fail_closed:
            raise ServiceUnavailable(
                "The gateway cannot reach Redis to check rate limits.", retry_after=1.0
            )
        return self._check_locally(checks)

    def _check_locally(self, checks: tuple[Check, ...]) -> Admission:
        return self._verdict(self._local.check_now(checks), checks, shared=False)

    def _verdict(
        self, result: CheckResult, checks: tuple[Check, ...], *, shared: bool
    ) -> Admission:
        if result.allowed:
            return Admission(checks, shared)
        self.rejected[result.reason or "qps"] += 1
        retry_after = result.retry_after
        if result.reason == "concurrency":
            raise RateLimited(
                "Too many concurrent requests for this key.",
                code="concurrency_limit_exceeded",
                retry_after=retry_after,
            )
        raise RateLimited(
            "Rate limit reached for this key.", code="rate_limit_exceeded", retry_after=retry_after
        )

    def release(self, request_id: str, admission: Admission) -> None:
        """Give back the concurrency lease; never awaits."""
        if self._held.pop(request_id, None) is None:  # held iff the key has a concurrency limit
            return
        checks = admission.checks
        shared = self._shared
        if not admission.shared or shared is None:
            self._local.release_now(checks)
            return
        started = shared.start_release(checks)
        if started is None:
            self._outbox.post(lambda: shared.release(checks))
            return
        for write in started:
            self._outbox.started(write)

    async def renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            await self._renew()

    async def _renew(self) -> None:
        by_target: dict[bool, dict[str, list[str]]] = {True: {}, False: {}}
        for admission in list(self._held.values()):
            for check in admission.checks:
                if check.concurrency:
                    by_target[admission.shared].setdefault(check.key, []).append(check.lease_id)
        for shared, leases in by_target.items():
            checks = self._shared if shared and self._shared is not None else self._local
            for key, ids in leases.items():
                try:
                    await checks.leases.renew(key, ids, self._ttl_s)
                except RateLimitStoreError as exc:
                    self.circuit.failed(exc)


async def _limits_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS].limits
    client = app[REDIS_SCRIPTS]
    outbox = Outbox()
    outbox.start()
    quota = QuotaBook()
    limits = KeyLimits(
        shared=RedisKeyChecks(client) if client is not None else None,
        quota=quota,
        outbox=outbox,
        lease_ttl_s=settings.lease_ttl_s,
        fail_closed=settings.redis_failure == "closed",
        retry_s=settings.redis_retry_s,
    )
    app[LIMITS] = limits
    store = app[STORE]
    await quota.reload(store)
    writer = app[USAGE]
    writer.listeners.append(quota.add)
    writer.flushed.append(lambda: quota.reload_soon(store))
    renewer = asyncio.create_task(limits.renew_forever())
    yield
    await stop(renewer)
    await quota.close()
    await outbox.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_limits_ctx)
