"""Redis ``KeyChecks``: a request's rate and concurrency checks in one script, all or nothing.

Invariants:

- One ``CHECK`` script evaluates every check of one cluster slot (reading only, and counting
  what this call would add), then records all hits and takes all leases, or nothing. With a
  plain Redis every check goes into that one script: one round trip.
- On Redis Cluster, checks of key ids in different slots (a child key and its parent) run as
  one script per slot in order; when a later slot fails (or the call is cancelled or errors)
  the slots already applied are taken back with ``UNDO`` (remove the recorded stamps and the
  newly taken leases), so the result stays all-or-nothing. A reply lost in transit can leave
  a lease behind until its ttl: callers release their checks in ``finally``.
- Token budget: see ``ratelimit.lua`` (``RESERVE``/``RECONCILE``); same semantics as the
  in-process ``MemoryKeyChecks``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from ratelimit import lua
from ratelimit.base import (
    CONCURRENCY_RETRY_CAP_S,
    TOKENS_WINDOW_S,
    UNLIMITED,
    Check,
    CheckResult,
    Decision,
    RateLimitStoreError,
    Reason,
    smaller_remaining,
    unlimited,
    validate_key,
    validate_tokens,
)
from ratelimit.redis import (
    Parts,
    RedisLeases,
    ScriptClient,
    Shaped,
    lease_key,
    micros,
    rate_key,
    run_script,
    tokens_key,
    tokens_sum_key,
)

#: Entries of the token log ``RECONCILE`` reads per step while it looks for the reservation.
_RECONCILE_SCAN_CHUNK = 32

_log = logging.getLogger(__name__)

_Applied = tuple[Sequence[Check], list[Any]]


class RedisKeyChecks:
    """``KeyChecks`` over Redis or Redis Cluster; shares its keys with ``RedisLeases``."""

    def __init__(self, client: ScriptClient, *, leases: RedisLeases | None = None) -> None:
        self._cluster = isinstance(client, RedisCluster)
        self._leases = leases or RedisLeases(client)
        self._check = client.register_script(lua.CHECK)
        self._check_shaped = Shaped(self._check)
        self._undo = client.register_script(lua.UNDO)
        self._reserve = client.register_script(lua.RESERVE)
        self._reconcile = client.register_script(lua.RECONCILE)

    @property
    def leases(self) -> RedisLeases:
        return self._leases

    async def check(self, checks: Sequence[Check]) -> CheckResult:
        if len(checks) == 1:  # the usual case: one key id, one script call of a known shape
            return await self._check_one(checks[0])
        applied: list[_Applied] = []
        remaining = UNLIMITED
        try:
            for group in self._groups(checks):
                reply = await run_script(self._check, _check_keys(group), _check_args(group))
                if not reply[0]:
                    await self._undo_all(applied)
                    return _failure(group, reply)
                applied.append((group, reply[5:]))
                remaining = smaller_remaining(remaining, int(reply[4]))
        except BaseException:
            await self._undo_quietly(applied)
            raise
        return CheckResult(True, remaining=remaining)

    async def _check_one(self, check: Check) -> CheckResult:
        def build() -> Parts:
            keys, args = _check_keys((check,)), _check_args((check,))
            return keys, args[:3], args[4:]  # args[3] is the lease id

        shape = (check.key, check.rate_limit, check.window_s, check.concurrency, check.lease_ttl_s)
        reply = await self._check_shaped.run(shape, build, check.lease_id)
        if not reply[0]:
            return _failure((check,), reply)
        return CheckResult(True, remaining=int(reply[4]))

    async def release(self, checks: Sequence[Check]) -> None:
        held = [check for check in checks if check.concurrency]
        if len(held) == 1:  # the usual case: no gather, no task
            await self._leases.release(held[0].key, held[0].lease_id)
        elif held:
            await asyncio.gather(*(self._leases.release(c.key, c.lease_id) for c in held))

    def start_release(self, checks: Sequence[Check]) -> list[asyncio.Future[Any]] | None:
        """``release`` started now, one write per lease, not awaited (the lean client only:
        see ``ratelimit.redis.Shaped.start``); None: await ``release`` instead."""
        started = []
        for check in checks:
            if check.concurrency:
                write = self._leases.start_release(check.key, check.lease_id)
                if write is None:
                    return None
                started.append(write)
        return started

    async def reserve(self, key: str, tokens: int, limit_per_min: int) -> Decision:
        """Reserve ``tokens`` of the key's tokens-per-minute budget before a request."""
        validate_key(key)
        validate_tokens(tokens, limit_per_min)
        if not limit_per_min:
            return unlimited()
        allowed, wait_us, remaining = await run_script(
            self._reserve,
            [tokens_key(key), tokens_sum_key(key)],
            [tokens, limit_per_min, micros(TOKENS_WINDOW_S)],
        )
        return Decision(bool(allowed), wait_us / 1_000_000, int(remaining))

    async def reconcile(self, key: str, reserved: int, actual: int) -> None:
        """Replace a reservation by the tokens actually used (``reserved=0``: just record)."""
        validate_key(key)
        validate_tokens(reserved, actual)
        if actual == reserved:
            return
        await run_script(
            self._reconcile,
            [tokens_key(key), tokens_sum_key(key)],
            [reserved, actual, micros(TOKENS_WINDOW_S), _RECONCILE_SCAN_CHUNK],
        )

    def _groups(self, checks: Sequence[Check]) -> list[Sequence[Check]]:
        if not self._cluster or len(checks) < 2:
            return [checks] if checks else []
        by_slot: dict[int, list[Check]] = {}
        for check in checks:
            by_slot.setdefault(key_slot(rate_key(check.key).encode()), []).append(check)
        return list(by_slot.values())

    async def _undo_all(self, applied: list[_Applied]) -> None:
        while applied:
            group, recorded = applied.pop()
            args: list[str | int] = []
            for index, check in enumerate(group):
                stamp, new = recorded[2 * index], recorded[2 * index + 1]
                args += [int(stamp), check.lease_id, int(new)]
            await run_script(self._undo, _check_keys(group), args)

    async def _undo_quietly(self, applied: list[_Applied]) -> None:
        try:
            await self._undo_all(applied)
        except RateLimitStoreError:
            _log.warning("could not take back a partial key check; its leases expire by ttl")


def _check_keys(group: Sequence[Check]) -> list[str]:
    keys: list[str] = []
    for check in group:
        keys += [rate_key(check.key), lease_key(check.key)]
    return keys


def _check_args(group: Sequence[Check]) -> list[str | int]:
    args: list[str | int] = []
    for check in group:
        args += [
            check.rate_limit,
            micros(check.window_s),
            check.concurrency,
            check.lease_id,
            micros(check.lease_ttl_s),
        ]
    args.append(micros(CONCURRENCY_RETRY_CAP_S))
    return args


def _failure(group: Sequence[Check], reply: list[Any]) -> CheckResult:
    _, index, reason, wait_us, _ = reply
    check = group[int(index) - 1]
    kind: Reason = "qps" if int(reason) == 1 else "concurrency"
    return CheckResult(False, kind, int(wait_us) / 1_000_000, check.key, 0)
