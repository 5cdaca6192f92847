"""Bench row: realtime ASR over WebSocket, many sessions at real time, one gateway core.

`--sessions` (default 200) sessions each send 20 ms frames of 16 kHz PCM at 50 frames/s
through the gateway (pinned to one CPU) to the mock ASR upstream (`bench.asr_upstream`,
the mock's engine on a socket), the load side (`bench.asr_load`) and the upstream on the
other CPU. Reported: frames/s relayed, the frame relay delay (client send → upstream
arrival, p50/p99/max; target p99 ≤ 20 ms), the gateway's CPU share and RSS (peak and end),
and how many sessions completed. One bounded run that stops by itself.

    python -m bench.ws_asr [--sessions 200] [--seconds 10]

The lead's `bench/__main__.py` can call `run(sessions, seconds)` → `AsrResult` and print
`AsrResult.markdown()` as its own section.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import orjson
import yaml

from bench.procs import (
    BenchError,
    cpu_seconds,
    free_port,
    pin_prefix,
    run_checked,
    running,
    wait_http_ok,
)
from bench.targets import GATEWAY, ROOT, START_TIMEOUT_S, plan_pins, system_key

MODEL = "bench-asr"
TARGET_P99_MS = 20.0


@dataclass(frozen=True, slots=True)
class AsrResult:
    sessions: int
    completed: int
    failed: int
    frames_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    gateway_cpu: float  # share of one core
    rss_peak_mb: float
    rss_end_mb: float
    late_frames: int
    note: str

    def markdown(self) -> str:
        verdict = "ok" if self.p99_ms <= TARGET_P99_MS else f"**over {TARGET_P99_MS:.0f} ms**"
        return (
            "| sessions | completed | frames/s relayed | relay p50 ms | relay p99 ms | max ms "
            "| gateway cpu | RSS peak MB | RSS end MB |\n"
            "|---|---|---|---|---|---|---|---|---|\n"
            f"| {self.sessions} | {self.completed} (failed {self.failed}) | "
            f"{self.frames_per_s:,.0f} | {self.p50_ms:.2f} | {self.p99_ms:.2f} ({verdict}) | "
            f"{self.max_ms:.1f} | {self.gateway_cpu:.0%} | {self.rss_peak_mb:.0f} | "
            f"{self.rss_end_mb:.0f} |\n\n{self.note}; client frames sent late: {self.late_frames}"
        )


def gateway_config(data: Path, port: int, upstream_port: int) -> dict[str, object]:
    return {
        "server": {"host": "127.0.0.1", "port": port, "data_dir": str(data)},
        "logs": {"requests": "off"},
        "catalog": {
            "models": [{"name": MODEL, "endpoints": ["/v1/audio/asr/stream"]}],
            "channels": [
                {
                    "code": "ch-bench-asr",
                    "model": MODEL,
                    "protocol": "mock",
                    "url": f"ws://127.0.0.1:{upstream_port}/asr",
                    "price": {"per_second": "0.0001"},
                }
            ],
        },
    }


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _json(url: str, method: str = "GET") -> dict[str, float]:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        loaded: dict[str, float] = orjson.loads(answer.read())
        return loaded


def run(sessions: int, seconds: float) -> AsrResult:
    pins = plan_pins()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bella-asr-bench-")))
        upstream_port, port = free_port(), free_port()
        argv = [sys.executable, "-m", "bench.asr_upstream", "--port", str(upstream_port)]
        log = tmp / "upstream.log"
        up = stack.enter_context(running(argv, log=log, cpu=pins.load, cwd=ROOT))
        upstream = f"http://127.0.0.1:{upstream_port}"
        wait_http_ok(f"{upstream}/healthz", proc=up, log=log, timeout_s=START_TIMEOUT_S)
        config = tmp / "bench.yaml"
        config.write_text(yaml.safe_dump(gateway_config(tmp, port, upstream_port)))
        key = system_key(
            run_checked([*GATEWAY, "--config", str(config), "init"], timeout_s=120, cwd=ROOT)
        )
        log = tmp / "gateway.log"
        serve = [*GATEWAY, "--config", str(config), "serve"]
        gw = stack.enter_context(running(serve, log=log, cpu=pins.target, cwd=ROOT))
        wait_http_ok(
            f"http://127.0.0.1:{port}/healthz", proc=gw, log=log, timeout_s=START_TIMEOUT_S
        )
        _json(f"{upstream}/reset", "POST")
        load = [sys.executable, "-m", "bench.asr_load", "--url", f"ws://127.0.0.1:{port}"]
        load += ["--key", key, "--sessions", str(sessions), "--seconds", str(seconds)]
        cpu_before, started = cpu_seconds(gw.pid), time.monotonic()
        client = subprocess.Popen(
            [*pin_prefix(pins.load), *load],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        peak = 0.0
        while client.poll() is None:
            peak = max(peak, rss_mb(gw.pid))
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        out, err = client.communicate()
        if client.returncode != 0:
            raise BenchError(f"the load client failed:\n{err.decode()[-2000:]}")
        totals = orjson.loads(out.splitlines()[-1])
        stats = _json(f"{upstream}/stats")
        window = totals["window_s"] or seconds
        return AsrResult(
            sessions=sessions,
            completed=int(totals["completed"]),
            failed=int(totals["failed"]),
            frames_per_s=stats["frames"] / window,
            p50_ms=stats.get("p50_ms", float("nan")),
            p99_ms=stats.get("p99_ms", float("nan")),
            max_ms=stats.get("max_ms", float("nan")),
            gateway_cpu=(cpu_seconds(gw.pid) - cpu_before) / elapsed,
            rss_peak_mb=max(peak, rss_mb(gw.pid, "VmHWM")),
            rss_end_mb=rss_mb(gw.pid),
            late_frames=int(totals["late_frames"]),
            note=pins.note,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ws_asr", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    try:
        result = run(args.sessions, args.seconds)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    print(result.markdown())
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
