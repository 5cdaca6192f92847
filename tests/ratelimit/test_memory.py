"""The in-process limiter and leases, driven synchronously by a fake clock."""

from __future__ import annotations

import random
from collections import deque

import pytest

from ratelimit import UNLIMITED, Check, MemoryKeyChecks, MemoryLeases, MemoryLimiter
from ratelimit.memory import LeaseSet
from tests.ratelimit.conftest import FakeClock


def test_burst_across_a_window_boundary_never_doubles(clock: FakeClock) -> None:
    limiter = MemoryLimiter(clock=clock)
    start = clock.now
    clock.now = start + 0.9  # the end of what a fixed window would call [0, 1)
    assert all(limiter.hit_now("k", 10, 1.0, clock.now).allowed for _ in range(10))
    for offset in (1.0, 1.05, 1.5, 1.85):  # a fixed window would have reset at 1.0
        assert not limiter.hit_now("k", 10, 1.0, start + offset).allowed
    passed = sum(limiter.hit_now("k", 10, 1.0, start + 1.95).allowed for _ in range(20))
    assert passed == 10


def test_at_most_limit_in_any_window_span_and_no_needless_rejection() -> None:
    rng = random.Random(7)
    limiter, limit, window = MemoryLimiter(), 5, 1.0
    accepted: deque[float] = deque()
    now = 0.0
    for _ in range(5000):
        now += rng.expovariate(20.0)
        while accepted and accepted[0] <= now - window:
            accepted.popleft()
        decision = limiter.hit_now("k", limit, window, now)
        assert decision.allowed == (len(accepted) < limit)
        if decision.allowed:
            accepted.append(now)
            assert decision.remaining == limit - len(accepted)
        assert len(accepted) <= limit


def test_rejected_hits_consume_nothing(clock: FakeClock) -> None:
    limiter = MemoryLimiter(clock=clock)
    assert all(limiter.hit_now("k", 3, 1.0, clock.now).allowed for _ in range(3))
    for step in range(1, 100):
        assert not limiter.hit_now("k", 3, 1.0, clock.now + step * 0.009).allowed
    later = clock.now + 1.001
    assert [limiter.hit_now("k", 3, 1.0, later).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]


def test_retry_after_is_when_the_next_hit_passes(clock: FakeClock) -> None:
    limiter = MemoryLimiter(clock=clock)
    limiter.hit_now("k", 2, 1.0, 10.0)
    limiter.hit_now("k", 2, 1.0, 10.25)
    rejected = limiter.hit_now("k", 2, 1.0, 10.5)
    assert not rejected.allowed
    assert rejected.retry_after == pytest.approx(0.5)
    assert rejected.remaining == 0
    assert not limiter.hit_now("k", 2, 1.0, 10.5 + rejected.retry_after - 0.01).allowed
    assert limiter.hit_now("k", 2, 1.0, 10.5 + rejected.retry_after + 1e-9).allowed


def test_a_lowered_limit_waits_for_enough_entries_to_leave(clock: FakeClock) -> None:
    limiter = MemoryLimiter(clock=clock)
    for index in range(10):
        assert limiter.hit_now("k", 10, 1.0, 10.0 + index * 0.01).allowed
    decision = limiter.hit_now("k", 4, 1.0, 10.5)
    assert not decision.allowed
    # 6 of the 10 must leave before a 5th hit fits under 4: the 7th entry (10.06) is blocking
    assert decision.retry_after == pytest.approx(10.06 + 1.0 - 10.5)


def test_unlimited_records_nothing(clock: FakeClock) -> None:
    limiter = MemoryLimiter(clock=clock)
    decision = limiter.hit_now("k", 0, 1.0, clock.now)
    assert decision.allowed
    assert decision.remaining == UNLIMITED
    assert len(limiter.logs) == 0


def test_a_log_never_holds_more_than_limit_entries(clock: FakeClock) -> None:
    limiter = MemoryLimiter(clock=clock)
    for step in range(10_000):
        limiter.hit_now("k", 5, 1.0, clock.now + step * 0.001)
    log = limiter.logs.get("k")
    assert log is not None
    assert len(log.stamps) <= 5


def test_idle_keys_are_forgotten(clock: FakeClock) -> None:
    limiter = MemoryLimiter(clock=clock)
    for index in range(1000):
        limiter.hit_now(f"k{index}", 5, 1.0, clock.now)
    assert len(limiter.logs) == 1000
    for _ in range(600):
        limiter.hit_now("busy", 10**6, 1.0, clock.now + 2.0)
    assert len(limiter.logs) == 1


@pytest.mark.parametrize(
    ("key", "limit", "window_s"), [("", 1, 1.0), ("k", -1, 1.0), ("k", 1, 0.0)]
)
def test_invalid_arguments_are_refused(key: str, limit: int, window_s: float) -> None:
    with pytest.raises(ValueError, match="must"):
        MemoryLimiter().hit_now(key, limit, window_s, 0.0)


def test_lease_set_prunes_only_when_something_expired() -> None:
    leases = LeaseSet()
    leases.put("a", 10.0)
    leases.put("b", 20.0)
    assert leases.prune(5.0) == 2
    assert leases.prune(10.0) == 1
    assert leases.next_expiry == 20.0
    assert not leases.fits("c", 1, 15.0)
    assert leases.fits("b", 1, 15.0)
    assert leases.fits("c", 1, 20.0)


async def test_leases_expire_after_ttl_and_renew_keeps_them(clock: FakeClock) -> None:
    leases = MemoryLeases(clock=clock)
    assert await leases.acquire("ch", "a", 2, 10.0)
    assert await leases.acquire("ch", "b", 2, 10.0)
    clock.advance(8.0)
    await leases.renew("ch", ["a", "ghost"], 10.0)
    clock.advance(2.0)  # b expires exactly now, a lives until +8
    assert await leases.count("ch") == 1
    assert await leases.acquire("ch", "c", 2, 10.0)
    assert not await leases.acquire("ch", "d", 2, 10.0)
    clock.advance(8.0)
    assert await leases.count("ch") == 1  # only c (expires at +10 from its start)


async def test_idle_lease_keys_are_forgotten(clock: FakeClock) -> None:
    leases = MemoryLeases(clock=clock)
    for index in range(100):
        assert await leases.acquire(f"ch{index}", "a", 1, 1.0)
    await leases.release("ch0", "a")
    assert len(leases.sets) == 99
    clock.advance(5.0)
    for index in range(60):
        assert await leases.acquire("busy", f"r{index}", 1000, 1.0)
    assert len(leases.sets) == 1


async def test_key_checks_count_repeated_keys_in_one_call(clock: FakeClock) -> None:
    checks = MemoryKeyChecks(clock=clock)
    two = [Check("k", rate_limit=2), Check("k", rate_limit=2)]
    assert (await checks.check(two)).remaining == 0
    result = await checks.check([Check("k", rate_limit=3), Check("k", rate_limit=3)])
    assert not result.allowed
    assert result.retry_after == pytest.approx(1.0)
    leased = [Check("p", concurrency=1, lease_id="a"), Check("p", concurrency=1, lease_id="b")]
    assert not (await checks.check(leased)).allowed
    assert await checks.leases.count("p") == 0


async def test_token_budget_expires_after_a_minute(clock: FakeClock) -> None:
    checks = MemoryKeyChecks(clock=clock)
    assert (await checks.reserve("k", 900, 1000)).allowed
    clock.advance(30.0)
    assert (await checks.reserve("k", 100, 1000)).allowed
    rejected = await checks.reserve("k", 500, 1000)
    assert not rejected.allowed
    assert rejected.retry_after == pytest.approx(30.0)
    clock.advance(30.0)
    assert (await checks.reserve("k", 500, 1000)).allowed
