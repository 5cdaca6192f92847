"""Prometheus metrics on `GET /metrics`: one registry per app, observed where requests end.

- Every API request ends in the observe middleware, which calls `request_done` (requests,
  durations, queue wait, upstream time, gateway overhead, failovers) and `rejected` (429s
  the gateway itself answers, by reason).
- Every usage record passes `usage_recorded`, a `UsageWriter` listener: tokens, cost, TTFT.
- Live state (queues, slots, cooldowns, Redis, usage backlog) is read, not pushed: see
  `gateway.metrics_live`, refreshed before each scrape.

Labels are bounded: endpoint (the route pattern), model and channel (the catalog's names),
status class, reason codes the gateway defines. No key or user ids.

Hot path: in a single process the values are plain numbers (`gateway.metrics_values`),
exported at scrape time; an observation is a dict lookup and an addition.

Workers: with `--workers N` the supervisor sets `PROMETHEUS_MULTIPROC_DIR` (prometheus_client
reads it when imported) and `metrics.multiproc_dir`; every worker then keeps its values in
prometheus_client's metrics, which write them to files there, and a scrape on any worker
merges all of them, so each count is exported once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

from aiohttp import web
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.keys import DRAIN, METRICS, ROUTER, SETTINGS, USAGE
from gateway.metrics_live import Delta, LiveGauges, RoutingSource
from gateway.metrics_values import (
    CounterChild,
    HistogramChild,
    LocalValues,
    SharedValues,
    Values,
)
from gateway.store.records import UsageRecord
from gateway.tasks import stop
from gateway.timing import Outcome

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
VERSION = "0.1.0"
# 100 µs to 10 minutes: gateway overhead lives at the bottom, long streams at the top.
BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
STREAM_KINDS = ("sse", "websocket")
SERIES_CACHE_MAX = 10_000  # label sets whose series are remembered, at most


class _Ended:
    """The series requests of one label set end in, found once."""

    __slots__ = ("duration", "overhead", "queue", "requests", "upstream")

    def __init__(
        self,
        requests: CounterChild,
        duration: HistogramChild,
        overhead: HistogramChild,
        upstream: HistogramChild | None,  # none without a channel
    ) -> None:
        self.requests = requests
        self.duration = duration
        self.overhead = overhead
        self.upstream = upstream
        self.queue: HistogramChild | None = None  # once such a request was routed


class _Used:
    """The series usage records of one model and channel add to, found once."""

    __slots__ = ("completion", "cost", "prompt", "ttft")

    def __init__(self, prompt: CounterChild, completion: CounterChild) -> None:
        self.prompt = prompt
        self.completion = completion
        self.cost: CounterChild | None = None  # once a record costs something
        self.ttft: HistogramChild | None = None  # once a record was streamed


_STATUS_CLASSES = ("other", "1xx", "2xx", "3xx", "4xx", "5xx")


def _status_class(status: int) -> str:
    return _STATUS_CLASSES[status // 100] if 100 <= status < 600 else "other"


class Metrics:
    """Every metric of one app, in its own registry (never the global one)."""

    def __init__(self, *, multiproc_dir: str = "") -> None:
        self.registry = CollectorRegistry()
        self.multiproc_dir = multiproc_dir
        registry = self.registry
        values: Values
        if multiproc_dir:
            values = SharedValues(registry)
        else:
            ProcessCollector(registry=registry)
            values = LocalValues(registry)
        self._requests = values.counter(
            "bella_requests_total",
            "API requests by endpoint, model, channel and status class.",
            ["endpoint", "model", "channel", "status_class"],
        )
        self._duration = values.histogram(
            "bella_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["endpoint", "model"],
            BUCKETS,
        )
        self._upstream = values.histogram(
            "bella_upstream_duration_seconds",
            "Time spent upstream, from the first attempt to the end of the response.",
            ["model", "channel"],
            BUCKETS,
        )
        self._overhead = values.histogram(
            "bella_gateway_overhead_seconds",
            "Time spent in the gateway itself: the request's time less queue and upstream.",
            ["endpoint"],
            BUCKETS,
        )
        self._queue_wait = values.histogram(
            "bella_queue_wait_seconds",
            "Time a request waited for a concurrency slot.",
            ["model"],
            BUCKETS,
        )
        self._ttft = values.histogram(
            "bella_time_to_first_token_seconds",
            "Time from the request to the first streamed byte sent to the client.",
            ["model", "channel"],
            BUCKETS,
        )
        self._failovers = values.counter(
            "bella_failovers_total",
            "Attempts moved to another channel after an upstream failure.",
            ["model"],
        )
        self._rejections = values.counter(
            "bella_ratelimit_rejections_total",
            "Requests the gateway answered 429 itself, by reason code.",
            ["reason"],
        )
        self._tokens = values.counter(
            "bella_tokens_total",
            "Tokens billed, by model and type (input, output, cached_input).",
            ["model", "type"],
        )
        self._cost = values.counter(
            "bella_cost_total",
            "Cost billed, in the currency of the channel prices.",
            ["model"],
        )
        self._in_flight = values.gauge(
            "bella_requests_in_flight", "API requests being served.", mode="livesum"
        )
        self._streams = values.gauge(
            "bella_active_streams",
            "Open client streams: SSE responses and WebSocket sessions.",
            ["kind", "endpoint"],
            mode="livesum",
        )
        self._redis_errors = values.counter(
            "bella_redis_errors_total",
            "Redis commands that failed (routing, slots, readiness checks).",
        )
        self._database_errors = values.counter(
            "bella_database_errors_total",
            "Database operations that failed, by operation.",
            ["operation"],
        )
        self._database_errors.inc(("usage_write",), 0)  # exported from the start
        self.usage_write_errors = Delta(self._usage_write_error)
        self.live = LiveGauges(registry, redis_errors=self._redis_error)
        self._ended: dict[tuple[str, str, str, int], _Ended] = {}
        self._used: dict[tuple[str, str], _Used] = {}
        values.gauge(
            "bella_build_info", "The running gateway's version.", ["version"], mode="livemax"
        ).set((VERSION,), 1)

    def request_done(self, outcome: Outcome) -> None:
        endpoint, model, channel, status, _, spans, failovers, queued, _ = outcome
        found = self._ended.get((endpoint, model, channel, status))
        if found is None:
            found = self._ended_series(endpoint, model, channel, status)
        found.requests.inc()
        found.duration.observe(spans.total)
        found.overhead.observe(spans.gateway)
        if found.upstream is not None:
            found.upstream.observe(spans.upstream)
        if queued:  # only requests that were routed: their series appears with the first
            if found.queue is None:
                found.queue = self._queue_wait.child((model,))
            found.queue.observe(spans.queue)
        if failovers:
            self._failovers.inc((model,), failovers)

    def _ended_series(self, endpoint: str, model: str, channel: str, status: int) -> _Ended:
        """The series a request of these labels ends in, found once (label sets are few:
        the catalog's names and the statuses the gateway answers)."""
        if len(self._ended) >= SERIES_CACHE_MAX:
            self._ended.clear()
        found = self._ended[endpoint, model, channel, status] = _Ended(
            self._requests.child((endpoint, model, channel, _status_class(status))),
            self._duration.child((endpoint, model)),
            self._overhead.child((endpoint,)),
            self._upstream.child((model, channel)) if channel else None,
        )
        return found

    def rejected(self, reason: str) -> None:
        self._rejections.inc((reason,))

    def usage_recorded(self, records: Sequence[UsageRecord]) -> None:
        for record in records:
            model, channel = record.model, record.channel_code
            found = self._used.get((model, channel))
            if found is None:
                found = self._used_series(model, channel)
            found.prompt.inc(record.prompt_tokens)
            found.completion.inc(record.completion_tokens)
            if record.cached_tokens:
                self._tokens.inc((model, "cached_input"), record.cached_tokens)
            if record.cost:
                if found.cost is None:
                    found.cost = self._cost.child((model,))
                found.cost.inc(float(record.cost))
            if record.ttft_ms is not None:
                if found.ttft is None:
                    found.ttft = self._ttft.child((model, channel))
                found.ttft.observe(record.ttft_ms / 1000)

    def _used_series(self, model: str, channel: str) -> _Used:
        """The series a usage record of `model` on `channel` adds to, found once; the cost
        and time-to-first-token series once a record has them."""
        if len(self._used) >= SERIES_CACHE_MAX:
            self._used.clear()
        tokens = self._tokens
        found = self._used[model, channel] = _Used(
            tokens.child((model, "input")), tokens.child((model, "output"))
        )
        return found

    def in_flight(self, count: int) -> None:
        """API requests being served now (read from the drain at scrape, not counted per
        request)."""
        self._in_flight.set((), count)

    def stream_opened(self, kind: str, endpoint: str) -> None:
        """A stream of `kind` (sse, websocket) opened on `endpoint`."""
        self._streams.inc((kind, endpoint), 1)

    def stream_closed(self, kind: str, endpoint: str) -> None:
        self._streams.inc((kind, endpoint), -1)

    def redis_error(self) -> None:
        self._redis_errors.inc(())

    def _redis_error(self, count: float) -> None:
        self._redis_errors.inc((), count)

    def database_error(self, operation: str) -> None:
        self._database_errors.inc((operation,))

    def _usage_write_error(self, count: float) -> None:
        self._database_errors.inc(("usage_write",), count)

    def render(self) -> bytes:
        """The text exposition: this registry, or every worker's files when there are any."""
        if not self.multiproc_dir:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiproc_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


def refresh(app: web.Application) -> None:
    """Copy the live state (router, drain, usage writer) into the gauges."""
    metrics = app[METRICS]
    router: RoutingSource | None = app.get(ROUTER)
    if router is not None:
        metrics.live.routing(router.state())
    drain = app.get(DRAIN)
    if drain is not None:
        metrics.in_flight(len(drain.inflight))
    writer = app.get(USAGE)
    if writer is not None:
        metrics.live.usage(pending=writer.pending, spooled=writer.spool.count)
        metrics.usage_write_errors.update(writer.errors)


async def scrape(request: web.Request) -> web.Response:
    app = request.app
    refresh(app)
    metrics = app[METRICS]
    if metrics.multiproc_dir:  # reads every worker's files: off the event loop
        body = await asyncio.to_thread(metrics.render)
    else:
        body = metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def _sample_forever(app: web.Application, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            refresh(app)
        except Exception:
            log.exception("sampling live metrics failed")


async def _metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    metrics = app[METRICS]
    app[USAGE].listeners.append(metrics.usage_recorded)
    task = None
    if metrics.multiproc_dir:  # other workers' scrapes see this one's live state
        interval = app[SETTINGS].metrics.sample_interval_s
        task = asyncio.create_task(_sample_forever(app, interval))
    yield
    await stop(task)


def setup(app: web.Application) -> None:
    """Metrics for `app`; call after the router and the usage writer are set up."""
    app[METRICS] = Metrics(multiproc_dir=app[SETTINGS].metrics.multiproc_dir)
    app.cleanup_ctx.append(_metrics_ctx)
