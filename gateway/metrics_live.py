"""Live state as gauges: queue depth, slots, cooldowns, Redis, usage backlog.

Read, never pushed: `LiveGauges.refresh` copies a snapshot of the router's state
(`Router.state()`, see `RoutingSource`) and the usage writer into gauges. The serving process
refreshes right before every scrape, so a single process always exports exact values; with
`--workers N` each worker also refreshes every `metrics.sample_interval_s`, and the gauges'
multiprocess modes say how workers add up (`livesum`: slots held and queue depth are per
process; `livemax`: a limit or a cooldown every worker knows).

A channel or model that disappears from the snapshot is set to 0 and dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

Labels = tuple[str, ...]


class ChannelView(Protocol):
    """One channel as the router sees it in this process."""

    @property
    def code(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def held(self) -> int: ...  # slots this process holds
    @property
    def limit(self) -> int: ...  # max_concurrency, 0 = unlimited
    @property
    def cooldown_s(self) -> float: ...  # cooldown left, 0.0 when healthy


class RoutingView(Protocol):
    @property
    def channels(self) -> Iterable[ChannelView]: ...
    @property
    def queues(self) -> Mapping[str, int]: ...  # waiting requests per model, this process
    @property
    def redis_down(self) -> bool: ...
    @property
    def redis_failures(self) -> int: ...  # cumulative, this process
    @property
    def local_fallbacks(self) -> int: ...  # cumulative slots taken in process (fail-open)


class RoutingSource(Protocol):
    """What metrics read from `app[ROUTER]`: a cheap, read-only snapshot."""

    def state(self) -> RoutingView: ...


class _Tracked:
    """A labelled gauge whose label sets are replaced wholesale at each refresh."""

    __slots__ = ("_seen", "gauge")

    def __init__(self, gauge: Gauge) -> None:
        self.gauge = gauge
        self._seen: set[Labels] = set()

    def replace(self, values: Mapping[Labels, float]) -> None:
        for labels, value in values.items():
            self.gauge.labels(*labels).set(value)
        for gone in self._seen - values.keys():
            self.gauge.labels(*gone).set(0)
            self.gauge.remove(*gone)
        self._seen = set(values)


class Delta:
    """Feeds a cumulative number read from elsewhere into a counter, as increments."""

    __slots__ = ("_last", "inc")

    def __init__(self, inc: Callable[[float], None]) -> None:
        self.inc = inc  # the counter's increment
        self._last = 0

    def update(self, total: int) -> None:
        if total > self._last:
            self.inc(total - self._last)
        self._last = max(self._last, total)


class LiveGauges:
    def __init__(
        self, registry: CollectorRegistry, *, redis_errors: Callable[[float], None]
    ) -> None:
        channel = ["model", "channel"]
        self.queue_depth = _Tracked(
            Gauge(
                "bella_queue_depth",
                "Requests waiting for a concurrency slot, per model.",
                ["model"],
                registry=registry,
                multiprocess_mode="livesum",
            )
        )
        self.slots_in_use = _Tracked(
            Gauge(
                "bella_channel_slots_in_use",
                "Concurrency slots held on the channel by this gateway.",
                channel,
                registry=registry,
                multiprocess_mode="livesum",
            )
        )
        self.slots_limit = _Tracked(
            Gauge(
                "bella_channel_slots_limit",
                "The channel's max_concurrency (0 = unlimited).",
                channel,
                registry=registry,
                multiprocess_mode="livemax",
            )
        )
        self.cooldown = _Tracked(
            Gauge(
                "bella_channel_cooldown_seconds",
                "Seconds left in the channel's cooldown (0 = healthy).",
                channel,
                registry=registry,
                multiprocess_mode="livemax",
            )
        )
        self.healthy = _Tracked(
            Gauge(
                "bella_channel_healthy",
                "1 when the channel takes traffic, 0 while it cools down.",
                channel,
                registry=registry,
                multiprocess_mode="livemin",
            )
        )
        self.redis_up = Gauge(
            "bella_redis_up",
            "0 while the router considers Redis down, else 1 (also without Redis).",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self.redis_up.set(1)
        self.usage_pending = Gauge(
            "bella_usage_pending_records",
            "Usage records in memory, not yet written to the database.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.usage_spooled = Gauge(
            "bella_usage_spooled_records",
            "Usage records in the local spool, waiting for the database to answer.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.slot_fallbacks = Delta(
            Counter(
                "bella_slot_local_fallbacks_total",
                "Slots taken in process because Redis failed (limits.redis_failure=open).",
                registry=registry,
            ).inc
        )
        self.redis_errors = Delta(redis_errors)

    def routing(self, state: RoutingView) -> None:
        in_use: dict[Labels, float] = {}
        limit: dict[Labels, float] = {}
        cooldown: dict[Labels, float] = {}
        healthy: dict[Labels, float] = {}
        for channel in state.channels:
            labels = (channel.model, channel.code)
            in_use[labels] = channel.held
            limit[labels] = channel.limit
            cooldown[labels] = channel.cooldown_s
            healthy[labels] = 0.0 if channel.cooldown_s > 0 else 1.0
        self.slots_in_use.replace(in_use)
        self.slots_limit.replace(limit)
        self.cooldown.replace(cooldown)
        self.healthy.replace(healthy)
        self.queue_depth.replace({(model,): depth for model, depth in state.queues.items()})
        self.redis_up.set(0 if state.redis_down else 1)
        self.redis_errors.update(state.redis_failures)
        self.slot_fallbacks.update(state.local_fallbacks)

    def usage(self, *, pending: int, spooled: int) -> None:
        self.usage_pending.set(pending)
        self.usage_spooled.set(spooled)
