"""Where metric values live: plain numbers in this process, or prometheus_client's shared files.

Every API request updates a dozen values (requests, durations, tokens, in-flight…).
prometheus_client takes a lock for each update and a histogram walks its buckets one by one;
one event loop needs neither. So a single process keeps its values in `LocalValues`: dicts
of floats keyed by label values (a histogram series is one list: the count of each bucket,
found by bisection, then the sum), turned into metric families only when /metrics is
scraped. The exposition is the one prometheus_client gives: same names, types, labels,
buckets, and `_created` samples.

With `--workers N` every worker's values must reach every scrape, so `SharedValues` puts the
same small interface over prometheus_client's multiprocess metrics (mmap files per worker).

A labelled series appears when first updated; an unlabelled one exists from the start.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Generic, Literal, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

Labels = tuple[str, ...]
GaugeMode = Literal["livesum", "livemax", "livemin"]


class CounterChild(Protocol):
    """One series of a counter, found once: updating it looks nothing up."""

    def inc(self, amount: float = 1.0) -> None: ...


class HistogramChild(Protocol):
    def observe(self, value: float) -> None: ...


class CounterValues(Protocol):
    def inc(self, labels: Labels, amount: float = 1.0) -> None: ...
    def child(self, labels: Labels) -> CounterChild: ...  # the series appears now


class GaugeValues(Protocol):
    def inc(self, labels: Labels, amount: float = 1.0) -> None: ...  # negative: down
    def set(self, labels: Labels, value: float) -> None: ...


class HistogramValues(Protocol):
    def observe(self, labels: Labels, value: float) -> None: ...
    def child(self, labels: Labels) -> HistogramChild: ...  # the series appears now


class Values(Protocol):
    """Makes the metrics of one registry."""

    def counter(self, name: str, doc: str, labelnames: Sequence[str] = ()) -> CounterValues: ...
    def gauge(
        self, name: str, doc: str, labelnames: Sequence[str] = (), *, mode: GaugeMode
    ) -> GaugeValues: ...
    def histogram(
        self, name: str, doc: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> HistogramValues: ...


class _Local:
    """A local metric's series: label values → a cell holding the number, and when each
    series appeared."""

    __slots__ = ("_created", "_values", "doc", "labelnames", "name")

    def __init__(self, name: str, doc: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.doc = doc
        self.labelnames = tuple(labelnames)
        self._values: dict[Labels, list[float]] = {}
        self._created: dict[Labels, float] = {}
        if not self.labelnames:
            self._start(())

    def _cell(self, labels: Labels) -> list[float]:
        cell = self._values.get(labels)
        return self._start(labels) if cell is None else cell

    def _start(self, labels: Labels) -> list[float]:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name}: labels {labels} for {self.labelnames}")
        self._created.setdefault(labels, time.time())
        return self._values.setdefault(labels, [0.0])


class LocalCounter(_Local):
    __slots__ = ()

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError(f"{self.name}: counters only go up ({amount})")
        self._cell(labels)[0] += amount

    def child(self, labels: Labels) -> LocalCounterChild:
        return LocalCounterChild(self.name, self._cell(labels))

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.doc, labels=self.labelnames)
        created = self._created
        for labels, (value,) in self._values.items():
            family.add_metric(labels, value, created=created[labels])
        return family


class LocalCounterChild:
    __slots__ = ("_cell", "_name")

    def __init__(self, name: str, cell: list[float]) -> None:
        self._name = name
        self._cell = cell

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError(f"{self._name}: counters only go up ({amount})")
        self._cell[0] += amount


class LocalGauge(_Local):
    __slots__ = ()

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        self._cell(labels)[0] += amount

    def set(self, labels: Labels, value: float) -> None:
        self._cell(labels)[0] = value

    def family(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.doc, labels=self.labelnames)
        for labels, (value,) in self._values.items():
            family.add_metric(labels, value)
        return family


class LocalHistogram:
    """Each series is `[count in bucket 0, …, count in +Inf, sum]` (counts not cumulative)."""

    __slots__ = ("_bounds", "_created", "_le", "_series", "doc", "labelnames", "name")

    def __init__(
        self, name: str, doc: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self.name = name
        self.doc = doc
        self.labelnames = tuple(labelnames)
        self._bounds = sorted(buckets)
        self._le = [*(_le(bound) for bound in self._bounds), "+Inf"]
        self._series: dict[Labels, list[float]] = {}
        self._created: dict[Labels, float] = {}

    def observe(self, labels: Labels, value: float) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._start(labels)
        series[bisect_left(self._bounds, value)] += 1  # the first bound >= value, else +Inf
        series[-1] += value

    def child(self, labels: Labels) -> LocalHistogramChild:
        return LocalHistogramChild(self._bounds, self._series.get(labels) or self._start(labels))

    def _start(self, labels: Labels) -> list[float]:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name}: labels {labels} for {self.labelnames}")
        self._created[labels] = time.time()
        series = self._series[labels] = [0.0] * (len(self._le) + 1)
        return series

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.doc, labels=self.labelnames)
        for labels, series in self._series.items():
            buckets = list(zip(self._le, accumulate(series[:-1]), strict=True))
            family.add_metric(labels, buckets, series[-1])
            named = dict(zip(self.labelnames, labels, strict=True))
            family.add_sample(self.name + "_created", named, self._created[labels])
        return family


class LocalHistogramChild:
    __slots__ = ("_bounds", "_series")

    def __init__(self, bounds: list[float], series: list[float]) -> None:
        self._bounds = bounds
        self._series = series

    def observe(self, value: float) -> None:
        series = self._series
        series[bisect_left(self._bounds, value)] += 1
        series[-1] += value


def _le(bound: float) -> str:
    """A bucket's `le` label as prometheus_client writes it."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text


class LocalValues:
    """Metrics kept in this process; registered in `registry`, exported at each scrape."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._metrics: list[LocalCounter | LocalGauge | LocalHistogram] = []
        registry.register(self)

    def counter(self, name: str, doc: str, labelnames: Sequence[str] = ()) -> LocalCounter:
        metric = LocalCounter(name, doc, labelnames)
        self._metrics.append(metric)
        return metric

    def gauge(
        self, name: str, doc: str, labelnames: Sequence[str] = (), *, mode: GaugeMode
    ) -> LocalGauge:
        metric = LocalGauge(name, doc, labelnames)
        self._metrics.append(metric)
        return metric

    def histogram(
        self, name: str, doc: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> LocalHistogram:
        metric = LocalHistogram(name, doc, labelnames, buckets)
        self._metrics.append(metric)
        return metric

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield metric.family()


M = TypeVar("M", bound=MetricWrapperBase)


class _Children(Generic[M]):
    """A shared metric's label children, cached: `labels()` takes a lock and parses each call."""

    __slots__ = ("_cache", "_metric")

    def __init__(self, metric: M, labelnames: Sequence[str]) -> None:
        self._metric = metric
        self._cache: dict[Labels, M] = {} if labelnames else {(): metric}

    def get(self, labels: Labels) -> M:
        child = self._cache.get(labels)
        if child is None:
            child = self._cache[labels] = self._metric.labels(*labels)
        return child


class SharedCounter(_Children[Counter]):
    __slots__ = ()

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        self.get(labels).inc(amount)

    def child(self, labels: Labels) -> Counter:
        return self.get(labels)


class SharedGauge(_Children[Gauge]):
    __slots__ = ()

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        self.get(labels).inc(amount)

    def set(self, labels: Labels, value: float) -> None:
        self.get(labels).set(value)


class SharedHistogram(_Children[Histogram]):
    __slots__ = ()

    def observe(self, labels: Labels, value: float) -> None:
        self.get(labels).observe(value)

    def child(self, labels: Labels) -> Histogram:
        return self.get(labels)


class SharedValues:
    """prometheus_client's own metrics in `registry` (multiprocess files when so configured)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def counter(self, name: str, doc: str, labelnames: Sequence[str] = ()) -> SharedCounter:
        return SharedCounter(Counter(name, doc, labelnames, registry=self._registry), labelnames)

    def gauge(
        self, name: str, doc: str, labelnames: Sequence[str] = (), *, mode: GaugeMode
    ) -> SharedGauge:
        gauge = Gauge(name, doc, labelnames, registry=self._registry, multiprocess_mode=mode)
        return SharedGauge(gauge, labelnames)

    def histogram(
        self, name: str, doc: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> SharedHistogram:
        histogram = Histogram(name, doc, labelnames, registry=self._registry, buckets=buckets)
        return SharedHistogram(histogram, labelnames)
