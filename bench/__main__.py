"""`make bench`: the gateway's throughput against a bare aiohttp proxy, on loopback, with wrk.

One bounded run that stops by itself. A fake OpenAI upstream (`bench.upstream`) answers
canned chat completions. In front of it run the bare proxy (`bench.bare_proxy`) and the
gateway in each mode asked for; they take turns under wrk at 64 connections, for each
scenario (non-stream, 20-chunk SSE stream), warm-up first, `--rounds` times interleaved.
Every proxy under test is pinned to one CPU, the upstream and wrk to the other, so a row
says what one core of that proxy serves. The gateway's rps over the bare proxy's, per
scenario, is the figure of merit.

The processes are started by `bench.targets`, where a new gateway mode is one entry in
`TARGETS` and one in `MODES`; wrk's script and report are `bench.wrk`, the tables
`bench.report`, py-spy's hot spots (`--profile`) `bench.profile`.

    python -m bench [--duration S] [--warmup S] [--rounds N] [--mode bare|embedded|redis|all]
                    [--profile]
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from math import nan
from pathlib import Path

import orjson

from bench import profile, report, wrk
from bench.procs import (
    BenchError,
    CpuTimes,
    busy_share,
    cpu_seconds,
    cpu_times,
    ensure_tool,
    pin_prefix,
    run_checked,
    running,
    tail,
    wait_quiet,
)
from bench.targets import (
    MODEL,
    MODES,
    ROOT,
    TARGETS,
    Pins,
    Site,
    Target,
    auth_headers,
    modes_of,
    plan_pins,
    start_upstream,
    target_names,
)

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.md"
# The stream's 22 events in 6 writes: one write per event would make the upstream, on the
# core it shares with wrk, the limit of the bare proxy's stream row (see bench/upstream.py).
EVENTS_PER_WRITE = 4
QUIET_TIMEOUT_S = 30.0  # the longest wait for other work on the machine to pause, per run


@dataclass(frozen=True, slots=True)
class Options:
    duration_s: int
    warmup_s: int
    rounds: int
    connections: int
    modes: tuple[str, ...]
    output: Path
    profile: bool
    events_per_write: int


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    stream: bool

    def body(self) -> bytes:
        body: dict[str, object] = {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Say hello to the bench."}],
        }
        if self.stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        return orjson.dumps(body)


SCENARIOS = (Scenario("chat", stream=False), Scenario("chat-stream-20", stream=True))


@dataclass(frozen=True, slots=True)
class Context:
    """What measuring needs: the site the targets run on, the options, the upstream's pid."""

    site: Site
    options: Options
    upstream_pid: int


# --- command line -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--duration",
        type=_positive,
        default=_positive(environ.get("BENCH_DURATION", "10")),
        help="seconds per measured run (default 10, or $BENCH_DURATION)",
    )
    parser.add_argument("--warmup", type=_positive, default=2, help="seconds of warm-up per run")
    parser.add_argument(
        "--rounds",
        type=_positive,
        default=_positive(environ.get("BENCH_ROUNDS", "5")),
        help="measured runs per target and scenario, interleaved; the best is kept "
        "(default 5, or $BENCH_ROUNDS)",
    )
    parser.add_argument("--connections", type=_positive, default=64)
    parser.add_argument(
        "--mode",
        choices=[*MODES, "all"],
        default="all",
        help="gateway mode(s) measured against the bare proxy (default all: embedded and "
        "redis; bare: it alone)",
    )
    parser.add_argument(
        "--events-per-write",
        type=_positive,
        default=EVENTS_PER_WRITE,
        help=f"SSE events the upstream sends per write (default {EVENTS_PER_WRITE}: 6 writes "
        "for the 22 events; 1: a write per event; 22: the whole stream in one)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="markdown report")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after measuring, one more run per target and scenario under py-spy; hot spots "
        "are written beside the report (needs py-spy: .venv/bin/pip install py-spy)",
    )
    args = parser.parse_args(argv)
    modes = modes_of(args.mode)
    return Options(
        duration_s=args.duration,
        warmup_s=args.warmup,
        rounds=args.rounds,
        connections=args.connections,
        modes=modes,
        output=args.output,
        profile=args.profile,
        events_per_write=args.events_per_write,
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv, os.environ)
    try:
        ensure_tool("wrk", package="wrk")
        if "redis" in options.modes:
            ensure_tool("redis-server", package="redis-server")
        if options.profile:
            py_spy()  # fail now, not after the measured runs
        pins = plan_pins()
        print(f"bench: {pins.note}", flush=True)
        rows = run_all(options, pins)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    publish(rows, options, pins)
    return 1 if report.failures(rows) else 0


# --- running -----------------------------------------------------------------------------


def run_all(options: Options, pins: Pins) -> list[report.Row]:
    """Start the upstream and every target, then measure each scenario on each target."""
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bella-bench-")))
        upstream_url, upstream_pid = start_upstream(stack, tmp, pins, options.events_per_write)
        site = Site(tmp, pins, upstream_url)
        ctx = Context(site, options, upstream_pid)
        targets = []
        for name in target_names(options.modes):
            print(f"bench: starting {name}", flush=True)
            targets.append(TARGETS[name](stack, site))
        return [row for scenario in SCENARIOS for row in compare(targets, scenario, ctx)]


def compare(targets: Sequence[Target], scenario: Scenario, ctx: Context) -> list[report.Row]:
    """One row per target for `scenario`: the best of `rounds` interleaved runs.

    All targets stay up (an idle one costs nothing) and take turns, round after round, so a
    background load that comes and goes on a shared machine hits each of them alike.
    """
    scripts = [prepare_load(target, scenario, ctx) for target in targets]
    runs: list[list[report.Row]] = [[] for _ in targets]
    for round_ in range(1, ctx.options.rounds + 1):
        for target, script, done in zip(targets, scripts, runs, strict=True):
            print(f"bench: {scenario.name} / {target.name}: round {round_}", end="", flush=True)
            row = measure(target, scenario, script, ctx)
            done.append(row)
            print(f": {row.result.rps:,.0f} rps, {row.cpu_per_request_us:,.0f} µs cpu/req")
    if ctx.options.profile:
        for target, script in zip(targets, scripts, strict=True):
            profile_run(target, scenario, script, ctx)
    return [report.best(done) for done in runs]


# --- measuring ----------------------------------------------------------------------------


def prepare_load(target: Target, scenario: Scenario, ctx: Context) -> Path:
    """Check one request by hand, then write the wrk script for `scenario` on `target`."""
    headers = auth_headers(target.key)
    probe(target, scenario, headers)
    script = ctx.site.tmp / f"{target.name}-{scenario.name}.lua".replace("+", "-")
    script.write_text(wrk.lua_script(scenario.body(), headers))
    return script


def measure(target: Target, scenario: Scenario, script: Path, ctx: Context) -> report.Row:
    """Wait for quiet cores, warm up, then one measured wrk run with CPU accounting."""
    cpus = [cpu for cpu in (ctx.site.pins.target, ctx.site.pins.load) if cpu is not None]
    if cpus and not wait_quiet(cpus, timeout_s=QUIET_TIMEOUT_S):
        print(f"bench: CPUs {cpus} still busy after {QUIET_TIMEOUT_S:.0f} s; measuring anyway")
    url = f"{target.url}/v1/chat/completions"
    run_wrk(url, script, ctx.options.warmup_s, ctx)
    cores, target_cpu = cpu_times(), cpu_seconds(target.pid)
    started = time.monotonic()
    result = run_wrk(url, script, ctx.options.duration_s, ctx)
    elapsed = time.monotonic() - started
    target_share = (cpu_seconds(target.pid) - target_cpu) / elapsed
    after = cpu_times()
    return report.Row(
        scenario.name,
        target.name,
        result,
        target_cpu=target_share,
        target_core=_busy(cores, after, ctx.site.pins.target),
        load_core=_busy(cores, after, ctx.site.pins.load),
    )


def _busy(before: CpuTimes, after: CpuTimes, cpu: int | None) -> float:
    return nan if cpu is None else busy_share(before, after, cpu)


def profile_run(target: Target, scenario: Scenario, script: Path, ctx: Context) -> None:
    """One more run (not in the table) with py-spy sampling the target; hot spots to files.

    Only the gateway's hot spots matter, but the bare proxy's profile, taken the same way, is
    what tells the gateway's own work from aiohttp's. py-spy runs on the load core and reads
    the target's memory without pausing it (`--nonblocking`), so the target runs at nearly
    full speed meanwhile.
    """
    spy = py_spy()
    name = f"profile-{target.name}-{scenario.name}".replace("+", "-")
    collapsed = ctx.options.output.parent / f"{name}.collapsed"
    collapsed.parent.mkdir(parents=True, exist_ok=True)
    duration = ctx.options.duration_s
    argv = [spy, "record", "--nonblocking", "--rate", "200", "--format", "raw"]
    argv += ["--duration", str(duration), "--pid", str(target.pid), "--output", str(collapsed)]
    print(f"bench: {scenario.name} / {target.name}: profiling with py-spy", flush=True)
    log = ctx.site.tmp / f"{name}.log"
    cpu_before, started = cpu_seconds(target.pid), time.monotonic()
    with running(argv, log=log, cpu=ctx.site.pins.load) as proc:
        result = run_wrk(f"{target.url}/v1/chat/completions", script, duration, ctx)
        cpu = (cpu_seconds(target.pid) - cpu_before) / (time.monotonic() - started)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"py-spy did not finish\n{tail(log)}") from exc
    if proc.returncode != 0 or not collapsed.exists():
        raise BenchError(f"py-spy failed ({proc.returncode})\n{tail(log)}")
    # CPU per request turns a frame's share of samples into microseconds per request.
    per_request_us = cpu / result.rps * 1e6 if result.rps else 0.0
    title = (
        f"{name}: {result.rps:,.0f} rps under py-spy, target cpu {cpu:.0%}, "
        f"{per_request_us:.0f} µs CPU per request"
    )
    summary = profile.render(profile.summarize(collapsed.read_text()), title=title)
    collapsed.with_suffix(".txt").write_text(summary)
    print(summary, flush=True)


def py_spy() -> str:
    """py-spy from PATH or from this virtualenv."""
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise BenchError("--profile needs py-spy: `.venv/bin/pip install py-spy`")
    return found


def run_wrk(url: str, script: Path, duration_s: int, ctx: Context) -> wrk.WrkResult:
    argv = wrk.command(
        url,
        str(script),
        duration_s=duration_s,
        connections=ctx.options.connections,
        prefix=pin_prefix(ctx.site.pins.load),
    )
    out = run_checked(argv, timeout_s=duration_s + 60)
    try:
        return wrk.parse_output(out)
    except wrk.WrkOutputError as exc:
        raise BenchError(f"{' '.join(argv)}: {exc}\n{out}") from exc


def probe(target: Target, scenario: Scenario, headers: Mapping[str, str]) -> None:
    """One request by hand, so a misconfigured target fails loudly before any load."""
    request = urllib.request.Request(
        f"{target.url}/v1/chat/completions", data=scenario.body(), headers=dict(headers)
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except OSError as exc:
        raise BenchError(f"{target.name}: probe request failed: {exc}\n{tail(target.log)}") from exc
    done = body.rstrip().endswith(b"data: [DONE]") if scenario.stream else b'"choices"' in body
    if status != 200 or not done:
        raise BenchError(
            f"{target.name}: probe of {scenario.name} answered {status}, not a complete "
            f"chat completion:\n    {body[:600]!r}\n{tail(target.log)}"
        )


# --- reporting ----------------------------------------------------------------------------


def publish(rows: Sequence[report.Row], options: Options, pins: Pins) -> None:
    """Print the table and ratios, and write the markdown report."""
    print()
    print(report.text_table(rows))
    print()
    for line in report.summary_lines(rows):
        print(("!!! " if line.startswith("ERRORS") else "") + line)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(report.markdown(rows, header=header_lines(options, pins)))
    print(f"\nbench: report written to {options.output}")


def header_lines(options: Options, pins: Pins) -> list[str]:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"- date: {when}",
        f"- machine: {os.cpu_count()} CPU, {cpu_model()}, Python {sys.version.split()[0]}",
        f"- pinning: {pins.note}",
        f"- load: wrk -t2 -c{options.connections} -d{options.duration_s}s --latency "
        f"(after {options.warmup_s} s of warm-up), best of {options.rounds} interleaved "
        f"round(s); modes: {', '.join(options.modes)}; upstream SSE events per write: "
        f"{options.events_per_write}",
        "- target cpu: CPU time of the proxy under test over the run, as a share of one core; "
        "load core: how busy the core of the upstream and wrk was (incl. kernel time)",
    ]


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unknown CPU"
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
