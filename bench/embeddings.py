"""Bench row: POST /v1/embeddings under wrk, the gateway on one core, the mock as upstream.

The gateway runs the demo catalog (`init --demo`): `mock-embedding` answers in process with
deterministic 256-float vectors, so the row is the gateway's own cost per embeddings call
(parse, auth, limits, routing, slot, the mock's vectors, the usage record) on one core,
wrk on the other. One bounded run.

    python -m bench.embeddings [--duration 10] [--connections 64]

The lead's `bench/__main__.py` can call `run(duration_s, connections)` → `WrkResult`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import orjson
import yaml

from bench import wrk
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

BODY = orjson.dumps({"model": "mock-embedding", "input": ["The bench embeds this sentence."]})


def run(duration_s: int, connections: int) -> tuple[wrk.WrkResult, float]:
    """The wrk result and the gateway's CPU share over the measured run."""
    pins = plan_pins()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bella-emb-bench-")))
        port = free_port()
        config = tmp / "bench.yaml"
        server = {"host": "127.0.0.1", "port": port, "data_dir": str(tmp)}
        config.write_text(yaml.safe_dump({"server": server, "logs": {"requests": "off"}}))
        init = run_checked(
            [*GATEWAY, "--config", str(config), "init", "--demo"], timeout_s=120, cwd=ROOT
        )
        key = system_key(init)
        log = tmp / "gateway.log"
        serve = [*GATEWAY, "--config", str(config), "serve"]
        gw = stack.enter_context(running(serve, log=log, cpu=pins.target, cwd=ROOT))
        url = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{url}/healthz", proc=gw, log=log, timeout_s=START_TIMEOUT_S)
        script = tmp / "embeddings.lua"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        script.write_text(wrk.lua_script(BODY, headers))
        argv = wrk.command(
            f"{url}/v1/embeddings",
            str(script),
            duration_s=2,
            connections=connections,
            prefix=pin_prefix(pins.load),
        )
        run_checked(argv, timeout_s=60)  # warm-up
        before, started = cpu_seconds(gw.pid), time.monotonic()
        argv = wrk.command(
            f"{url}/v1/embeddings",
            str(script),
            duration_s=duration_s,
            connections=connections,
            prefix=pin_prefix(pins.load),
        )
        result = wrk.parse_output(run_checked(argv, timeout_s=duration_s + 60))
        return result, (cpu_seconds(gw.pid) - before) / (time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.embeddings", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(argv)
    try:
        result, cpu = run(args.duration, args.connections)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    print("| scenario | rps | p50 ms | p99 ms | errors | gateway cpu |")
    print("|---|---|---|---|---|---|")
    print(
        f"| embeddings (mock, 1 input) | {result.rps:,.0f} | {result.p50_ms:.2f} | "
        f"{result.p99_ms:.2f} | {result.describe_errors()} | {cpu:.0%} |"
    )
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
