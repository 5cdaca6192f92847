"""The bench's results as a terminal table and as markdown (pure functions, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.wrk import WrkResult

BASELINE = "bare"
TARGET_RATIO = 0.8  # the gateway in embedded mode
# Redis mode pays a round trip for the key check and one for the slot: its own target.
TARGET_RATIOS = {"gateway+redis": 0.7}
LOAD_BOUND = 0.9  # a load core this busy may be what limits a row, not the target
# Target-core time not spent by the target. Loopback softirq work for the target's own
# sockets lands partly there too, so only a clear excess is called interference.
INTERFERENCE = 0.25
COLUMNS = (
    "scenario",
    "target",
    "rps",
    "p50 ms",
    "p99 ms",
    "errors",
    "target cpu",
    "µs cpu/req",
    "load core",
)


@dataclass(frozen=True, slots=True)
class Row:
    """One measured run. CPU shares are of one core over the run (1.0 = a full core).

    `target_cpu` is the target process's own CPU time; `target_core` and `load_core` are how
    busy the target's core and the upstream's and wrk's core were, kernel time included (NaN
    when nothing was pinned). Busy time on the target core beyond `target_cpu` is mostly
    someone else's: other processes on the machine disturbed the run.
    """

    scenario: str
    target: str
    result: WrkResult
    target_cpu: float
    target_core: float
    load_core: float

    @property
    def interference(self) -> float:
        return self.target_core - self.target_cpu

    @property
    def cpu_per_request_us(self) -> float:
        """The target's CPU time per request served: steadier than rps on a noisy machine."""
        rps = self.result.rps
        return self.target_cpu / rps * 1e6 if rps > 0 else math.nan

    @property
    def load_bound(self) -> bool:
        return self.load_core >= LOAD_BOUND  # False for NaN

    def cells(self) -> tuple[str, ...]:
        r = self.result
        errors = r.describe_errors()
        return (
            self.scenario,
            self.target,
            f"{r.rps:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"**{errors}**" if r.failed else errors,
            f"{self.target_cpu:.0%}",
            f"{self.cpu_per_request_us:,.0f}",
            "-" if math.isnan(self.load_core) else f"{self.load_core:.0%}",
        )


@dataclass(frozen=True, slots=True)
class Ratio:
    scenario: str
    target: str
    value: float
    valid: bool  # False when either run had errors: the ratio then means nothing

    @property
    def wanted(self) -> float:
        return TARGET_RATIOS.get(self.target, TARGET_RATIO)

    @property
    def holds(self) -> bool:
        return self.valid and self.value >= self.wanted

    def describe(self) -> str:
        verdict = "holds" if self.holds else "MISSED"
        if not self.valid:
            verdict = "INVALID (errors in a run)"
        return (
            f"{self.scenario}: {self.target}/{BASELINE} = {self.value:.2f} "
            f"(target ≥ {self.wanted}: {verdict})"
        )


def best(runs: Sequence[Row]) -> Row:
    """The run to report: a failed one if any (errors must show), else the highest rps."""
    failed = [r for r in runs if r.result.failed]
    return failed[0] if failed else max(runs, key=lambda r: r.result.rps)


def ratios(rows: Sequence[Row]) -> list[Ratio]:
    """Each non-baseline row's rps over the baseline's for the same scenario."""
    baseline = {r.scenario: r for r in rows if r.target == BASELINE}
    out = []
    for row in rows:
        base = baseline.get(row.scenario)
        if row.target == BASELINE or base is None or base.result.rps <= 0:
            continue
        valid = not (row.result.failed or base.result.failed)
        out.append(Ratio(row.scenario, row.target, row.result.rps / base.result.rps, valid))
    return out


def failures(rows: Sequence[Row]) -> list[str]:
    """One line per run that had non-2xx responses or socket errors."""
    return [
        f"{r.scenario} / {r.target}: {r.result.describe_errors()} of {r.result.requests} requests"
        for r in rows
        if r.result.failed
    ]


def text_table(rows: Sequence[Row]) -> str:
    """A fixed-width table for the terminal."""
    cells = [COLUMNS, *(tuple(c.strip("*") for c in r.cells()) for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(
            c.rjust(w) if i >= 2 else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Row]) -> str:
    head = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "|".join("---" if i < 2 else "---:" for i in range(len(COLUMNS))) + "|"
    body = ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def summary_lines(rows: Sequence[Row]) -> list[str]:
    """The ratio lines, then a loud line per failed run."""
    lines = [r.describe() for r in ratios(rows)]
    lines += [
        f"note: {r.scenario} / {r.target}: the load core was {r.load_core:.0%} busy, so the "
        "load side may have capped this row (its rps is then a lower bound)"
        for r in rows
        if r.load_bound
    ]
    lines += [
        f"note: {r.scenario} / {r.target}: the target's core was {r.target_core:.0%} busy "
        f"but the target used {r.target_cpu:.0%}: other processes or kernel work competed"
        for r in rows
        if r.interference >= INTERFERENCE
    ]
    lines += [f"ERRORS: {line}" for line in failures(rows)]
    return lines


def markdown(rows: Sequence[Row], *, header: Sequence[str]) -> str:
    """The whole report: `header` lines (machine, command…), the table, the ratios."""
    parts = [
        "# Bella Gateway bench: latest run",
        "",
        *header,
        "",
        markdown_table(rows),
        "",
        *(f"- {line}" for line in summary_lines(rows)),
    ]
    return "\n".join(parts) + "\n"
