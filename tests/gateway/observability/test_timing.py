"""Where a request's time went, and the drain that ends requests at shutdown (no server)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from functools import partial

import pytest
from aiohttp.test_utils import make_mocked_request

from gateway.keys import TIMING
from gateway.shutdown import Drain, cancelled_status
from gateway.store.records import UsageRecord
from gateway.timing import Timing


def record(latency_ms: int, channel: str = "ch-1") -> UsageRecord:
    return UsageRecord(
        request_id="req-1",
        created_at=0.0,
        apikey_code="ak-1",
        endpoint="/v1/chat/completions",
        model="m",
        channel_code=channel,
        status=200,
        cost=Decimal("0.1"),
        latency_ms=latency_ms,
    )


def timing(started: float = 100.0) -> Timing:
    t = Timing("req-1", "/v1/chat/completions", None)
    t.started = started
    return t


def test_marked_phases_split_the_time_exactly() -> None:
    t = timing()
    t.add_queue(0.5)  # waited for the first slot
    t.upstream_from = 100.6
    t.attempts = 2  # one failover…
    t.add_queue(0.25)  # …which waited again
    t.ended = 102.0
    spans = t.spans()
    assert spans.total == pytest.approx(2.0)
    assert spans.queue == pytest.approx(0.75)
    assert spans.upstream == pytest.approx(1.15)
    assert spans.gateway == pytest.approx(0.1)
    assert t.failovers == 1
    assert t.queued_marked


def test_unmarked_upstream_time_comes_from_the_usage_record() -> None:
    t = timing()
    t.record = record(latency_ms=900)
    t.ended = 101.0
    spans = t.spans()
    assert spans.upstream == pytest.approx(0.9)
    assert spans.queue == 0.0
    assert spans.gateway == pytest.approx(0.1)
    assert not t.queued_marked


def test_no_channel_means_no_upstream_time() -> None:
    t = timing()
    t.record = record(latency_ms=900, channel="")
    t.ended = 100.01
    spans = t.spans()
    assert spans.upstream == 0.0
    assert spans.gateway == pytest.approx(0.01)


def test_spans_never_go_negative_nor_past_the_total() -> None:
    t = timing()
    t.record = record(latency_ms=5000)  # rounding or clock skew: more than the total
    t.ended = 101.0
    spans = t.spans()
    assert spans.upstream == pytest.approx(1.0)
    assert spans.gateway == 0.0


def test_server_timing_header() -> None:
    t = timing()
    t.upstream_from = 100.25
    t.ended = 100.5
    assert t.spans().server_timing() == (
        "gateway;dur=250.000, queue;dur=0.000, upstream;dur=250.000"
    )


def test_queue_waits_add_up_and_leave_the_upstream_span() -> None:
    t = timing()
    t.add_queue(0.25)
    t.upstream_started()
    assert t.upstream_from is not None
    t.add_queue(0.5)  # a failover's wait, after the first attempt went upstream
    t.ended = t.upstream_from + 1.0
    spans = t.spans()
    assert t.queued_marked
    assert spans.queue == pytest.approx(0.75)
    assert spans.upstream == pytest.approx(0.5)


def leave(drain: Drain, timing: Timing, _: object) -> None:
    drain.leave(timing)


async def test_drain_waits_then_interrupts_what_is_left() -> None:
    drain = Drain(timeout_s=0.05, grace_s=1.0)
    quick = asyncio.ensure_future(asyncio.sleep(0.01))
    slow = asyncio.ensure_future(asyncio.sleep(10))
    quick_timing = Timing("req-quick", "/x", quick)
    slow_timing = Timing("req-slow", "/x", slow)
    for t, task in ((quick_timing, quick), (slow_timing, slow)):
        drain.enter(t)
        task.add_done_callback(partial(leave, drain, t))
    drain.attach([record(10)])  # no such request in flight: ignored
    await drain.run()
    assert drain.draining
    assert not drain.inflight
    assert quick.done()
    assert not quick.cancelled()
    assert slow.cancelled()
    assert (quick_timing.interrupted, slow_timing.interrupted) == (False, True)


async def test_drain_hands_usage_records_to_their_request() -> None:
    drain = Drain(timeout_s=1.0)
    t = Timing("req-1", "/x", None)
    drain.enter(t)
    drain.attach([record(10)])
    assert t.record is not None
    assert t.record.request_id == "req-1"


def test_cancelled_status_tells_shutdown_from_a_client_gone() -> None:
    request = make_mocked_request("POST", "/v1/chat/completions")
    assert cancelled_status(request) == (499, "client_closed")
    t = Timing("req-1", "/v1/chat/completions", None)
    request[TIMING] = t
    assert cancelled_status(request) == (499, "client_closed")
    t.interrupted = True
    assert cancelled_status(request) == (503, "gateway_shutdown")
