"""The processes under test and around them: upstream, bare proxy, gateway, redis.

Each target is a name and a start function in `TARGETS`; a start function launches its
process(es) into the caller's ExitStack (stopped when it closes), pinned to the target CPU,
and returns once the target answers `GET /healthz`. A new gateway mode is one more entry
here and one in `MODES`.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.procs import BenchError, free_port, run_checked, running, tail, wait_http_ok
from bench.report import BASELINE

ROOT = Path(__file__).resolve().parent.parent
# `python -m gateway` is what the `bella-gateway` script runs; it does not depend on the
# editable install being current, only on the source tree (cwd=ROOT).
GATEWAY = (sys.executable, "-m", "gateway")
MODEL = "bench-chat"
# --mode NAME -> the targets measured after the bare proxy; `all` is every gateway mode.
MODES = {"bare": (), "embedded": ("gateway",), "redis": ("gateway+redis",)}


def modes_of(choice: str) -> tuple[str, ...]:
    """The gateway modes a `--mode` choice names (`all`: both gateways)."""
    return ("embedded", "redis") if choice == "all" else (choice,)


def target_names(modes: tuple[str, ...]) -> list[str]:
    """The bare proxy, then the targets of `modes`, in the order they are measured."""
    return [BASELINE, *(name for mode in modes for name in MODES[mode])]


def auth_headers(key: str) -> dict[str, str]:
    """What every bench request sends besides its body."""
    return {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}


START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Pins:
    """Where the proxy under test runs, and where the load side (upstream, wrk, redis) runs."""

    target: int | None
    load: int | None
    note: str


@dataclass(frozen=True, slots=True)
class Site:
    """Where targets start: scratch space, the CPUs, and the upstream they all forward to."""

    tmp: Path
    pins: Pins
    upstream_url: str
    wrap: tuple[str, ...] = ()  # a command the proxies under test run inside (valgrind)
    start_timeout_s: float = START_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    url: str
    key: str
    pid: int
    log: Path


def plan_pins() -> Pins:
    """Proxy on the first CPU we may use, load on the second; unpinned with fewer than two."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or (os.cpu_count() or 1) < 2:
        return Pins(None, None, f"only {len(cpus)} CPU: running UNPINNED (numbers are rough)")
    if shutil.which("taskset") is None:
        return Pins(None, None, "taskset not found: running UNPINNED (numbers are rough)")
    target, load = cpus[0], cpus[1]
    return Pins(target, load, f"proxy under test on CPU {target}; upstream and wrk on CPU {load}")


def start_upstream(
    stack: ExitStack, tmp: Path, pins: Pins, events_per_write: int
) -> tuple[str, int]:
    port = free_port()
    log = tmp / "upstream.log"
    argv = [sys.executable, "-m", "bench.upstream", "--port", str(port)]
    argv += ["--events-per-write", str(events_per_write)]
    proc = stack.enter_context(running(argv, log=log, cpu=pins.load, cwd=ROOT))
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/healthz", proc=proc, log=log, timeout_s=START_TIMEOUT_S)
    return url, proc.pid


def start_bare(stack: ExitStack, site: Site) -> Target:
    port = free_port()
    log = site.tmp / "bare_proxy.log"
    argv = [*site.wrap, sys.executable, "-m", "bench.bare_proxy", "--port", str(port)]
    argv += ["--upstream", site.upstream_url]
    proc = stack.enter_context(running(argv, log=log, cpu=site.pins.target, cwd=ROOT))
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/healthz", proc=proc, log=log, timeout_s=site.start_timeout_s)
    return Target(BASELINE, url, "sk-bench-unused", proc.pid, log)


def start_gateway(stack: ExitStack, site: Site) -> Target:
    return _gateway(stack, site, name="gateway", redis_url=None)


def start_gateway_redis(stack: ExitStack, site: Site) -> Target:
    return _gateway(stack, site, name="gateway+redis", redis_url=start_redis(stack, site))


def _gateway(stack: ExitStack, site: Site, *, name: str, redis_url: str | None) -> Target:
    """`init` a fresh data dir from a generated config, then `serve` it pinned."""
    data = site.tmp / name.replace("+", "-")
    data.mkdir()
    port = free_port()
    config = data / "bench.yaml"
    config.write_text(yaml.safe_dump(gateway_config(data, port, site.upstream_url, redis_url)))
    run_checked([*GATEWAY, "--config", str(config), "init"], timeout_s=120, cwd=ROOT)
    # A key with limits, so every request also passes the QPS and concurrency checks.
    limits = ["--qps", "1000000", "--concurrency", "100000", "--month-quota", "1000000"]
    create = [*GATEWAY, "--config", str(config), "apikey", "create", "--name", "bench", *limits]
    key = system_key(run_checked(create, timeout_s=120, cwd=ROOT))
    log = data / "gateway.log"
    argv = [*site.wrap, *GATEWAY, "--config", str(config), "serve"]
    proc = stack.enter_context(running(argv, log=log, cpu=site.pins.target, cwd=ROOT))
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/healthz", proc=proc, log=log, timeout_s=site.start_timeout_s)
    return Target(name, url, key, proc.pid, log)


def gateway_config(
    data: Path, port: int, upstream_url: str, redis_url: str | None
) -> dict[str, object]:
    config: dict[str, object] = {
        "server": {"host": "127.0.0.1", "port": port, "data_dir": str(data)},
        "catalog": {
            "models": [
                {
                    "name": MODEL,
                    "endpoints": ["/v1/chat/completions"],
                    "features": {"stream": True},
                }
            ],
            "channels": [
                {
                    "code": "ch-bench",
                    "model": MODEL,
                    "protocol": "openai",
                    "url": f"{upstream_url}/v1",
                    "credentials": {"api_key": "sk-bench"},
                    "deploy_name": "bench-upstream",
                    "price": {"input": "1", "output": "2"},
                    # Slots on: in Redis mode every request takes and gives back a lease.
                    "max_concurrency": 100_000,
                }
            ],
        },
    }
    if redis_url is not None:
        config["redis"] = {"url": redis_url}
    return config


def system_key(init_output: str) -> str:
    """The key `init` prints once: the line that starts with `sk-`."""
    for line in init_output.splitlines():
        if line.strip().startswith("sk-"):
            return line.strip()
    raise BenchError(f"`init` printed no key (a line starting with sk-):\n{init_output}")


def start_redis(stack: ExitStack, site: Site) -> str:
    """A throwaway redis-server (no persistence) on the load CPU; returns its URL."""
    port = free_port()
    data = site.tmp / "redis"
    data.mkdir()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(data)]
    log = data / "redis.log"
    proc = stack.enter_context(running(argv, log=log, cpu=site.pins.load))
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _redis_pongs(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"redis-server on port {port} did not come up\n{tail(log)}")
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def _redis_pongs(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


TARGETS: dict[str, Callable[[ExitStack, Site], Target]] = {
    BASELINE: start_bare,
    "gateway": start_gateway,
    "gateway+redis": start_gateway_redis,
}
