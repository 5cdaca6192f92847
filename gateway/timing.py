"""One request's clock: where its time went (gateway, queue, upstream), and what it became.

The handler wrapper (`observe.start`) starts a `Timing` for every API request
(`request[TIMING]`) and ends it when the handler returns. Handlers mark the phases only they
can see:

- `request[TIMING].add_queue(seconds)` — time spent waiting for a slot (dispatch measures
  it around `router.acquire`, cancellation included);
- `request[TIMING].upstream_started()` — an attempt is about to be sent upstream.

Upstream time runs from the first attempt to the end (the handler's return, or "now" while
a stream's headers are prepared), less the queue waits of later attempts; gateway time is the
rest. A handler that marks nothing is estimated from its usage record (upstream ≈ the record's
latency less queue). The usage record itself is attached when the handler records it.
"""

from __future__ import annotations

import asyncio
import time
from typing import NamedTuple

from aiohttp import web

from gateway.store.records import UsageRecord


class Spans(NamedTuple):  # a tuple: built once per request, cheaply
    """Seconds spent: in all, waiting for a slot, upstream, and in the gateway itself."""

    total: float
    queue: float
    upstream: float
    gateway: float

    def server_timing(self) -> str:
        """The `Server-Timing` header value (milliseconds)."""
        return (
            f"gateway;dur={self.gateway * 1000:.3f}, queue;dur={self.queue * 1000:.3f}, "
            f"upstream;dur={self.upstream * 1000:.3f}"
        )


class Outcome(NamedTuple):
    """How a request ended, as metrics and the request log see it."""

    endpoint: str  # the route pattern, e.g. /v1/chat/completions
    model: str
    channel: str  # "" when no channel was chosen
    status: int  # what the client saw (or, for a broken stream, would have seen)
    error: str  # error code, "" on success
    spans: Spans
    failovers: int
    queued: bool  # the handler measured a queue wait
    stream: str  # "sse", "websocket" or ""


class Timing:
    __slots__ = (
        "_queue_after_upstream",
        "attempts",
        "ended",
        "endpoint",
        "error",
        "final",
        "interrupted",
        "queue_s",
        "queued_marked",
        "record",
        "request_id",
        "response",
        "started",
        "status",
        "stream",
        "task",
        "trace_id",
        "upstream_from",
    )

    def __init__(self, request_id: str, endpoint: str, task: asyncio.Task[object] | None) -> None:
        self.request_id = request_id
        self.endpoint = endpoint
        self.task = task
        self.started = time.perf_counter()
        self.ended: float | None = None
        self.queue_s = 0.0
        self.queued_marked = False
        self._queue_after_upstream = 0.0
        self.upstream_from: float | None = None
        self.attempts = 0
        self.record: UsageRecord | None = None
        self.response: web.StreamResponse | None = None  # a stream, once prepared
        self.stream = ""  # "sse" or "websocket" once such a response is prepared
        self.interrupted = False  # ended by the shutdown drain
        self.trace_id = ""  # the client's, when it sent a clean one
        self.status = 500  # what the handler ended with, as the middleware learns it
        self.error = "internal_error"
        self.final: Spans | None = None  # the spans, once the request ended

    def interrupt(self) -> None:
        """End the request now (shutdown deadline): cancel its task, once."""
        if self.interrupted:
            return
        self.interrupted = True
        if self.task is not None:
            self.task.cancel()

    def add_queue(self, seconds: float) -> None:
        self.queued_marked = True
        self.queue_s += seconds
        if self.upstream_from is not None:
            self._queue_after_upstream += seconds

    def upstream_started(self) -> None:
        """An attempt goes upstream; every attempt after the first is a failover."""
        self.attempts += 1
        if self.upstream_from is None:
            self.upstream_from = time.perf_counter()

    def end(self) -> None:
        if self.ended is None:
            self.ended = time.perf_counter()

    def finish(self) -> Spans:
        """End the request and fix its spans (`final`): nothing they depend on changes later."""
        self.end()
        if self.final is None:
            self.final = self.spans()
        return self.final

    def ending(self, status: int, error: str) -> None:
        self.status, self.error = status, error

    @property
    def failovers(self) -> int:
        return self.attempts - 1 if self.attempts > 1 else 0

    def spans(self) -> Spans:
        # Comparisons, not min()/max(): this runs for every request.
        end = self.ended if self.ended is not None else time.perf_counter()
        total = end - self.started
        queue = self.queue_s
        if self.upstream_from is not None:
            upstream = end - self.upstream_from - self._queue_after_upstream
        elif self.record is not None and self.record.channel_code:
            upstream = self.record.latency_ms / 1000 - queue
        else:
            upstream = 0.0
        outside_queue = total - queue if total > queue else 0.0
        if upstream < 0.0:
            upstream = 0.0
        elif upstream > outside_queue:
            upstream = outside_queue
        gateway = outside_queue - upstream
        return Spans(total if total > 0.0 else 0.0, queue, upstream, gateway)
