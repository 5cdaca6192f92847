"""Prometheus metrics on `GET /metrics`: one registry per app, observed where requests end.

- Every API request ends in the observe middleware, which calls `request_done` (requests,
  durations, queue wait, upstream time, gateway overhead, failovers) and `rejected` (429s
  the gateway itself answers, by reason).
- Every usage record passes `usage_recorded`, a `UsageWriter` listener: tokens, cost, TTFT.
- Live state (queues, slots, cooldowns, Redis, usage backlog) is read, not pushed: see
  `gateway.metrics_live`, refreshed before each scrape.

Labels are bounded: endpoint (the route pattern), model and channel (the catalog's names),
status class, reason codes the gateway defines. No key or user ids.

Hot path: label children are cached in plain dicts (`_Children`), so an observation is a
dict lookup plus the value's own update.

Workers: with `--workers N` the supervisor sets `PROMETHEUS_MULTIPROC_DIR` (prometheus_client
reads it when imported) and `metrics.multiproc_dir`; every worker writes its values to files
there, and a scrape on any worker merges all of them, so each count is exported once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Generic, TypeVar

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.keys import METRICS, ROUTER, SETTINGS, USAGE
from gateway.metrics_live import Delta, LiveGauges, RoutingSource
from gateway.store.records import UsageRecord
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

M = TypeVar("M", bound=MetricWrapperBase)


class _Children(Generic[M]):
    """A metric's label children, cached: `labels()` takes a lock and parses every call."""

    __slots__ = ("_cache", "_metric")

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], M] = {}

    def get(self, *values: str) -> M:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._metric.labels(*values)
        return child


def _status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class Metrics:
    """Every metric of one app, in its own registry (never the global one)."""

    def __init__(self, *, multiproc_dir: str = "") -> None:
        self.registry = CollectorRegistry()
        self.multiproc_dir = multiproc_dir
        registry = self.registry
        if not multiproc_dir:
            ProcessCollector(registry=registry)
        self._requests = _Children(
            Counter(
                "bella_requests_total",
                "API requests by endpoint, model, channel and status class.",
                ["endpoint", "model", "channel", "status_class"],
                registry=registry,
            )
        )
        self._duration = _histogram(
            registry,
            "bella_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["endpoint", "model"],
        )
        self._upstream = _histogram(
            registry,
            "bella_upstream_duration_seconds",
            "Time spent upstream, from the first attempt to the end of the response.",
            ["model", "channel"],
        )
        self._overhead = _histogram(
            registry,
            "bella_gateway_overhead_seconds",
            "Time spent in the gateway itself: the request's time less queue and upstream.",
            ["endpoint"],
        )
        self._queue_wait = _histogram(
            registry,
            "bella_queue_wait_seconds",
            "Time a request waited for a concurrency slot.",
            ["model"],
        )
        self._ttft = _histogram(
            registry,
            "bella_time_to_first_token_seconds",
            "Time from the request to the first streamed byte sent to the client.",
            ["model", "channel"],
        )
        self._failovers = _Children(
            Counter(
                "bella_failovers_total",
                "Attempts moved to another channel after an upstream failure.",
                ["model"],
                registry=registry,
            )
        )
        self._rejections = _Children(
            Counter(
                "bella_ratelimit_rejections_total",
                "Requests the gateway answered 429 itself, by reason code.",
                ["reason"],
                registry=registry,
            )
        )
        self._tokens = _Children(
            Counter(
                "bella_tokens_total",
                "Tokens billed, by model and type (input, output, cached_input).",
                ["model", "type"],
                registry=registry,
            )
        )
        self._cost = _Children(
            Counter(
                "bella_cost_total",
                "Cost billed, in the currency of the channel prices.",
                ["model"],
                registry=registry,
            )
        )
        self._in_flight = Gauge(
            "bella_requests_in_flight",
            "API requests being served.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._streams = _Children(
            Gauge(
                "bella_active_streams",
                "Open client streams: SSE responses and WebSocket sessions.",
                ["kind", "endpoint"],
                registry=registry,
                multiprocess_mode="livesum",
            )
        )
        self._redis_errors = Counter(
            "bella_redis_errors_total",
            "Redis commands that failed (routing, slots, readiness checks).",
            registry=registry,
        )
        self._database_errors = _Children(
            Counter(
                "bella_database_errors_total",
                "Database operations that failed, by operation.",
                ["operation"],
                registry=registry,
            )
        )
        self.usage_write_errors = Delta(self._database_errors.get("usage_write"))
        self.live = LiveGauges(registry, redis_errors=self._redis_errors)
        Gauge(
            "bella_build_info",
            "The running gateway's version.",
            ["version"],
            registry=registry,
            multiprocess_mode="livemax",
        ).labels(VERSION).set(1)

    def request_done(self, outcome: Outcome) -> None:
        spans = outcome.spans
        model, channel = outcome.model, outcome.channel
        status_class = _status_class(outcome.status)
        self._requests.get(outcome.endpoint, model, channel, status_class).inc()
        self._duration.get(outcome.endpoint, model).observe(spans.total)
        self._overhead.get(outcome.endpoint).observe(spans.gateway)
        if channel:
            self._upstream.get(model, channel).observe(spans.upstream)
        if outcome.queued:
            self._queue_wait.get(model).observe(spans.queue)
        if outcome.failovers:
            self._failovers.get(model).inc(outcome.failovers)

    def rejected(self, reason: str) -> None:
        self._rejections.get(reason).inc()

    def usage_recorded(self, records: Sequence[UsageRecord]) -> None:
        for record in records:
            model = record.model
            self._tokens.get(model, "input").inc(record.prompt_tokens)
            self._tokens.get(model, "output").inc(record.completion_tokens)
            if record.cached_tokens:
                self._tokens.get(model, "cached_input").inc(record.cached_tokens)
            if record.cost:
                self._cost.get(model).inc(float(record.cost))
            if record.ttft_ms is not None:
                self._ttft.get(model, record.channel_code).observe(record.ttft_ms / 1000)

    def in_flight(self, delta: int) -> None:
        self._in_flight.inc(delta)

    def stream(self, kind: str, endpoint: str) -> Gauge:
        """The gauge of open streams of `kind` (sse, websocket) on `endpoint`."""
        return self._streams.get(kind, endpoint)

    def redis_error(self) -> None:
        self._redis_errors.inc()

    def database_error(self, operation: str) -> None:
        self._database_errors.get(operation).inc()

    def render(self) -> bytes:
        """The text exposition: this registry, or every worker's files when there are any."""
        if not self.multiproc_dir:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiproc_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


def _histogram(
    registry: CollectorRegistry, name: str, documentation: str, labels: list[str]
) -> _Children[Histogram]:
    return _Children(Histogram(name, documentation, labels, registry=registry, buckets=BUCKETS))


def refresh(app: web.Application) -> None:
    """Copy the live state (router, usage writer) into the gauges."""
    metrics = app[METRICS]
    router: RoutingSource | None = app.get(ROUTER)
    if router is not None:
        metrics.live.routing(router.state())
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
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup(app: web.Application) -> None:
    """Metrics for `app`; call after the router and the usage writer are set up."""
    app[METRICS] = Metrics(multiproc_dir=app[SETTINGS].metrics.multiproc_dir)
    app.cleanup_ctx.append(_metrics_ctx)
