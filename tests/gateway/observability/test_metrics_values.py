"""Local metric values render exactly as prometheus_client's own metrics would (no server)."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gateway.metrics_values import LocalValues, SharedValues, Values

BUCKETS = (0.0001, 0.001, 0.1, 1.0, 10.0)
OBSERVED = (0.0, 0.00005, 0.0001, 0.00011, 0.05, 1.0, 9.99, 10.0, 11.0, 1e9)
CREATED = re.compile(r"^(\S+_created(?:\{.*\})?) \S+$", re.MULTILINE)


def drive(values: Values) -> None:
    counter = values.counter("t_requests_total", "Requests.", ["endpoint", "code"])
    plain = values.counter("t_errors_total", "Errors.")
    gauge = values.gauge("t_open", "Open.", ["kind"], mode="livesum")
    histogram = values.histogram("t_seconds", "Seconds.", ["endpoint"], BUCKETS)
    values.gauge("t_info", "Info.", ["version"], mode="livemax").set(("1.0",), 1)
    values.counter("t_idle_total", "Never used.", ["reason"])
    counted, timed = counter.child(("/c", "y")), histogram.child(("/c",))  # found once
    for i, seconds in enumerate(OBSERVED):
        counter.inc(("/a", str(i % 3)))
        counter.inc(("/b", "x"), i)
        histogram.observe(("/a" if i % 2 else "/b",), seconds)
        counted.inc(i)
        timed.observe(seconds)
    plain.inc((), 2.5)
    gauge.inc(("sse",), 1)
    gauge.inc(("sse",), 1)
    gauge.inc(("sse",), -1)
    gauge.inc(("ws",), 1)
    gauge.inc(("ws",), -1)


def exposition(values_of: type[LocalValues] | type[SharedValues]) -> list[str]:
    registry = CollectorRegistry()
    drive(values_of(registry))
    text = CREATED.sub(r"\1 <time>", generate_latest(registry).decode())
    return sorted(text.splitlines())


def test_local_values_expose_what_prometheus_client_would() -> None:
    assert exposition(LocalValues) == exposition(SharedValues)


def test_counters_only_go_up() -> None:
    counter = LocalValues(CollectorRegistry()).counter("t_total", "T.", ["a"])
    with pytest.raises(ValueError, match="only go up"):
        counter.inc(("x",), -1)
    with pytest.raises(ValueError, match="only go up"):
        counter.child(("x",)).inc(-1)


@pytest.mark.parametrize("labels", [(), ("a", "b")])
def test_label_values_must_match_the_label_names(labels: tuple[str, ...]) -> None:
    values = LocalValues(CollectorRegistry())
    with pytest.raises(ValueError, match="labels"):
        values.counter("t_total", "T.", ["a"]).inc(labels)
    with pytest.raises(ValueError, match="labels"):
        values.histogram("t_seconds", "T.", ["a"], BUCKETS).observe(labels, 1.0)
