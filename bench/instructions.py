"""Instructions per request, counted by valgrind's callgrind: a figure noise cannot move.

`make bench` measures throughput, which a neighbour's load on a shared VM moves by ±10 %
between runs of the same build. This counts the user-space instructions each proxy executes
per request instead: the proxy runs under callgrind with instrumentation switched on only
around a fixed number of requests, and the count repeats to within about 0.5 %. It is the
figure to compare two builds by; throughput stays the figure of merit.

Not counted: time in the kernel (syscalls) and what cache misses cost. Under callgrind a
proxy is about 50 times slower, so an upstream's writes arrive together and a stream is read
in one chunk; under full load it may take a few.

    python -m bench.instructions [--requests N] [--mode bare|embedded|redis|all]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import aiohttp

from bench import report
from bench.__main__ import EVENTS_PER_WRITE, SCENARIOS, Scenario, probe
from bench.procs import BenchError, ensure_tool, run_checked
from bench.targets import (
    MODES,
    TARGETS,
    Site,
    Target,
    auth_headers,
    modes_of,
    plan_pins,
    start_upstream,
    target_names,
)

WARMUP_REQUESTS = 300
CONCURRENCY = 8
START_TIMEOUT_S = 300.0  # the proxy's start-up, uninstrumented but under valgrind


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="measured per row")
    parser.add_argument("--mode", choices=[*MODES, "all"], default="all")
    args = parser.parse_args(argv)
    ensure_tool("valgrind", package="valgrind")
    names = target_names(modes_of(args.mode))
    try:
        counts = measure_all(names, args.requests)
    except BenchError as exc:
        print(f"bench: {exc}")
        return 1
    print(table(counts))
    return 0


def measure_all(names: Sequence[str], requests: int) -> dict[tuple[str, str], float]:
    """Instructions per request, by (scenario, target)."""
    counts: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="bella-instr-") as scratch:
        tmp = Path(scratch)
        for name in names:
            for scenario in SCENARIOS:
                print(f"bench: counting {scenario.name} / {name}", flush=True)
                counts[scenario.name, name] = count(name, scenario, requests, tmp)
    return counts


def count(name: str, scenario: Scenario, requests: int, tmp: Path) -> float:
    """One target, freshly started under callgrind, counted over `requests` requests."""
    run = tmp / f"{name}-{scenario.name}".replace("+", "-")
    run.mkdir()
    pins = plan_pins()
    wrap = (
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",  # start-up runs uninstrumented, hence fast
        f"--callgrind-out-file={run}/callgrind.%p",
    )
    with ExitStack() as stack:
        upstream_url, _ = start_upstream(stack, run, pins, EVENTS_PER_WRITE)
        site = Site(run, pins, upstream_url, wrap=wrap, start_timeout_s=START_TIMEOUT_S)
        target = TARGETS[name](stack, site)
        url = f"{target.url}/v1/chat/completions"
        probe(target, scenario, auth_headers(target.key))  # a broken target fails clearly
        asyncio.run(load(url, target, scenario, WARMUP_REQUESTS))
        callgrind_control(("-i", "on"), target.pid)
        asyncio.run(load(url, target, scenario, requests))
        callgrind_control(("-i", "off"), target.pid)
        callgrind_control(("-d",), target.pid)
    files = run.glob(f"callgrind.{target.pid}*")
    return (
        sum(totals(path.read_text(encoding="utf-8", errors="replace")) for path in files) / requests
    )


async def load(url: str, target: Target, scenario: Scenario, requests: int) -> None:
    """`requests` requests, `CONCURRENCY` at a time; each must succeed."""
    headers = auth_headers(target.key)
    body = scenario.body()
    left = requests

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise BenchError(f"{target.name} answered {response.status}")

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))


def callgrind_control(action: tuple[str, ...], pid: int) -> None:
    run_checked(["callgrind_control", *action, str(pid)], timeout_s=60)


def totals(text: str) -> int:
    """The instructions a callgrind output file counts: its `totals:` line, near the end (a
    `summary:` line near the top may still say 0 in a file written by a dump)."""
    for line in reversed(text.splitlines()):
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise BenchError("a callgrind output file holds no totals line")


def table(counts: dict[tuple[str, str], float]) -> str:
    """Thousands of instructions per request, and each target's count over the bare proxy's."""
    lines = ["scenario        target         k instr/req  bare/target"]
    for (scenario, name), value in counts.items():
        bare = counts.get((scenario, report.BASELINE))
        ratio = f"{bare / value:11.2f}" if bare else ""
        lines.append(f"{scenario:15} {name:14} {value / 1000:11.1f}  {ratio}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
