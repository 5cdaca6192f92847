"""The same behaviour from both backends: in-process (fake clock) and Redis (real time)."""

from __future__ import annotations

import pytest

from ratelimit import UNLIMITED, Check
from tests.ratelimit.conftest import Backend


async def hits(backend: Backend, key: str, limit: int, count: int) -> list[bool]:
    return [(await backend.limiter.hit(key, limit, backend.window_s)).allowed for _ in range(count)]


async def test_limit_per_window_and_no_double_burst_at_a_boundary(backend: Backend) -> None:
    key, window = backend.key(), backend.window_s
    assert await hits(backend, key, 5, 7) == [True] * 5 + [False] * 2
    await backend.sleep(0.5 * window)  # a fixed window might have reset by now: this one has not
    assert await hits(backend, key, 5, 5) == [False] * 5
    await backend.sleep(0.6 * window)
    assert await hits(backend, key, 5, 7) == [True] * 5 + [False] * 2


async def test_rejected_hits_consume_nothing(backend: Backend) -> None:
    key, window = backend.key(), backend.window_s
    assert await hits(backend, key, 3, 3) == [True] * 3
    for _ in range(20):
        assert await hits(backend, key, 3, 1) == [False]
        await backend.sleep(0.04 * window)
    await backend.sleep(0.3 * window)
    assert await hits(backend, key, 3, 4) == [True] * 3 + [False]


async def test_retry_after_says_when_a_hit_passes(backend: Backend) -> None:
    key, window = backend.key(), backend.window_s
    first = await backend.limiter.hit(key, 1, window)
    assert first.allowed
    assert first.remaining == 0
    rejected = await backend.limiter.hit(key, 1, window)
    assert not rejected.allowed
    assert 0.9 * window < rejected.retry_after <= window
    await backend.sleep(rejected.retry_after + 0.01)
    assert (await backend.limiter.hit(key, 1, window)).allowed


async def test_limit_zero_is_unlimited(backend: Backend) -> None:
    decision = await backend.limiter.hit(backend.key(), 0, backend.window_s)
    assert decision.allowed
    assert decision.remaining == UNLIMITED


async def test_leases_respect_the_limit_and_release_is_idempotent(backend: Backend) -> None:
    key, leases = backend.key(), backend.leases
    assert await leases.acquire(key, "a", 2, 10.0)
    assert await leases.acquire(key, "b", 2, 10.0)
    assert not await leases.acquire(key, "c", 2, 10.0)
    assert await leases.count(key) == 2
    await leases.release(key, "a")
    await leases.release(key, "a")
    await leases.release(backend.key(), "a")
    assert await leases.count(key) == 1
    assert await leases.acquire(key, "c", 2, 10.0)
    assert await leases.count(key) == 2


async def test_reacquiring_a_held_lease_counts_once(backend: Backend) -> None:
    key = backend.key()
    assert await backend.leases.acquire(key, "a", 1, 10.0)
    assert await backend.leases.acquire(key, "a", 1, 10.0)
    assert await backend.leases.count(key) == 1


async def test_unlimited_leases_record_nothing(backend: Backend) -> None:
    key = backend.key()
    assert await backend.leases.acquire(key, "a", 0, 10.0)
    assert await backend.leases.count(key) == 0


async def test_an_expired_lease_frees_its_slot(backend: Backend) -> None:
    key, ttl = backend.key(), 0.5 * backend.window_s
    assert await backend.leases.acquire(key, "crashed", 1, ttl)
    assert not await backend.leases.acquire(key, "b", 1, ttl)
    await backend.sleep(1.2 * ttl)
    assert await backend.leases.count(key) == 0
    assert await backend.leases.acquire(key, "b", 1, ttl)


async def test_renew_keeps_a_lease_alive_but_never_revives_one(backend: Backend) -> None:
    key, ttl = backend.key(), backend.window_s
    assert await backend.leases.acquire(key, "stream", 1, ttl)
    await backend.sleep(0.6 * ttl)
    await backend.leases.renew(key, ["stream", "unknown"], ttl)
    await backend.sleep(0.6 * ttl)  # past the first expiry, before the renewed one
    assert await backend.leases.count(key) == 1
    assert not await backend.leases.acquire(key, "other", 1, ttl)
    await backend.sleep(0.6 * ttl)
    await backend.leases.renew(key, ["stream"], ttl)
    assert await backend.leases.count(key) == 0


async def test_check_records_the_hit_and_takes_the_lease(backend: Backend) -> None:
    key, window = backend.key(), backend.window_s
    first = Check(key, rate_limit=2, window_s=window, concurrency=1, lease_id="a")
    result = await backend.checks.check([first])
    assert result.allowed
    assert result.remaining == 1
    assert await backend.leases.count(key) == 1

    second = Check(key, rate_limit=2, window_s=window, concurrency=1, lease_id="b")
    busy = await backend.checks.check([second])
    assert (busy.allowed, busy.reason, busy.failed_key) == (False, "concurrency", key)
    assert 0 < busy.retry_after <= 1.0

    await backend.checks.release([first])
    assert (await backend.checks.check([second])).remaining == 0  # the busy call took no hit
    await backend.checks.release([second])
    third = Check(key, rate_limit=2, window_s=window, concurrency=1, lease_id="c")
    limited = await backend.checks.check([third])
    assert (limited.allowed, limited.reason) == (False, "qps")
    assert 0 < limited.retry_after <= window
    assert await backend.leases.count(key) == 0  # the limited call took no lease


async def test_check_is_all_or_nothing_across_keys(backend: Backend) -> None:
    child, parent, window = backend.key(), backend.key(), backend.window_s
    assert await backend.leases.acquire(parent, "someone-else", 1, 10.0)
    request = [
        Check(child, rate_limit=5, window_s=window, concurrency=2, lease_id="r1"),
        Check(parent, rate_limit=5, window_s=window, concurrency=1, lease_id="r1"),
    ]
    result = await backend.checks.check(request)
    assert (result.allowed, result.reason, result.failed_key) == (False, "concurrency", parent)
    assert await backend.leases.count(child) == 0
    assert await hits(backend, child, 5, 6) == [True] * 5 + [False]
    assert await hits(backend, parent, 5, 6) == [True] * 5 + [False]


async def test_check_without_limits_passes_unlimited(backend: Backend) -> None:
    result = await backend.checks.check([Check(backend.key())])
    assert result.allowed
    assert result.remaining == UNLIMITED
    assert (await backend.checks.check([])).allowed


async def test_token_budget_reserve_and_reconcile(backend: Backend) -> None:
    key, budget = backend.key(), backend.checks
    assert (await budget.reserve(key, 600, 1000)).remaining == 400
    rejected = await budget.reserve(key, 600, 1000)
    assert not rejected.allowed
    assert 55.0 < rejected.retry_after <= 60.0
    await budget.reconcile(key, reserved=600, actual=100)
    assert (await budget.reserve(key, 600, 1000)).remaining == 300
    await budget.reconcile(key, reserved=0, actual=200)  # usage that was never reserved
    assert not (await budget.reserve(key, 200, 1000)).allowed
    assert (await budget.reserve(key, 100, 1000)).remaining == 0
    too_big = await budget.reserve(key, 2000, 1000)
    assert (too_big.allowed, too_big.retry_after) == (False, 60.0)
    assert (await budget.reserve(key, 10**9, 0)).allowed


@pytest.mark.parametrize("limit", [-1])
async def test_negative_limits_are_refused(backend: Backend, limit: int) -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        await backend.limiter.hit(backend.key(), limit, 1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        await backend.leases.acquire(backend.key(), "a", limit, 1.0)
