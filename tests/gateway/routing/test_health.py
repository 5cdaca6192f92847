"""Channel health: cooldowns and the error-rate window, on a fake clock."""

from __future__ import annotations

from adapters.errors import (
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamUnavailable,
)
from gateway.routing.health import ErrorWindow, Health, HealthPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


POLICY = HealthPolicy(
    cooldown_s=30, unreachable_cooldown_s=10, window_s=60, min_requests=10, error_rate=0.3
)


def make() -> tuple[Health, Clock]:
    clock = Clock()
    return Health(POLICY, clock=clock), clock


def test_window_counts_only_the_last_window() -> None:
    window = ErrorWindow(60)
    for t in range(0, 60, 6):
        window.add(float(t), error=t < 30)
    assert window.totals(59.0) == (10, 5)
    assert window.totals(100.0) == (4, 0)  # 5 s buckets: t=36 stays until its bucket ends
    assert window.totals(101.0) == (3, 0)
    assert window.totals(200.0) == (0, 0)


def test_429_cools_for_retry_after_else_the_default() -> None:
    health, clock = make()
    assert health.report("a", UpstreamRateLimited("slow down", retry_after=7)) == 7
    assert health.cooling("a", clock.now + 6.9)
    assert not health.cooling("a", clock.now + 7.0)
    assert health.report("b", UpstreamRateLimited("slow down")) == 30


def test_unreachable_cools_for_its_own_time() -> None:
    health, clock = make()
    assert health.report("a", UpstreamUnavailable("refused")) == 10
    assert health.until("a") == clock.now + 10


def test_error_rate_trips_at_30_percent_of_10() -> None:
    health, clock = make()
    for _ in range(7):
        assert health.report("a", None) == 0
    for _ in range(2):
        assert health.report("a", UpstreamServerError("500")) == 0
    assert not health.cooling("a", clock.now)
    assert health.report("a", UpstreamServerError("500")) == 30  # 3 of 10
    assert health.cooling("a", clock.now + 29.9)


def test_too_few_requests_never_trip() -> None:
    health, clock = make()
    for _ in range(9):
        assert health.report("a", UpstreamServerError("500")) == 0
    assert not health.cooling("a", clock.now)


def test_old_errors_leave_the_window() -> None:
    health, clock = make()
    for _ in range(9):
        health.report("a", UpstreamServerError("500"))
    clock.now += 60 + 60 / 12  # the window, plus one bucket of precision
    assert health.report("a", UpstreamServerError("500")) == 0


def test_a_trip_clears_the_window() -> None:
    health, clock = make()
    for _ in range(10):
        health.report("a", UpstreamServerError("500"))
    clock.now += 31
    assert health.report("a", UpstreamServerError("500")) == 0


def test_client_errors_do_not_count() -> None:
    health, clock = make()
    for _ in range(20):
        assert health.report("a", UpstreamBadRequest("bad")) == 0
    assert not health.cooling("a", clock.now)


def test_cooldowns_only_extend() -> None:
    health, clock = make()
    assert health.cool("a", 20, clock.now)
    assert not health.cool("a", 5, clock.now)
    assert health.until("a") == clock.now + 20
    assert health.cool("a", 25, clock.now)
    assert not health.cool("a", 0, clock.now)
