"""Gateways as real OS processes (`python -m gateway serve`), for multi-process tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.servers.lifetime import tied_to_this_process

READY_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(path: Path, data_dir: Path, **sections: Any) -> Path:
    config = {"server": {"host": "127.0.0.1", "data_dir": str(data_dir)}, **sections}
    path.write_text(yaml.safe_dump(config))
    return path


def cli(config: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run one command to completion; its stdout (fails the test with stderr on error)."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def new_key(config: Path, *args: str) -> str:
    out = cli(config, "apikey", "create", "--name", "test", *args)
    return next(line for line in out.splitlines() if line.startswith("sk-"))


class GatewayProcess:
    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._config, self._log, self._env = config, log, env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.proc = subprocess.Popen(
                tied_to_this_process(
                    [
                        sys.executable,
                        "-m",
                        "gateway",
                        "--config",
                        str(self._config),
                        "serve",
                        "--port",
                        str(self.port),
                    ]
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self._env},
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited {self.proc.returncode}: {self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"gateway did not listen in {READY_TIMEOUT_S} s: {self.log_text()}")

    def log_text(self) -> str:
        return self._log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def gateways(
    config: Path, logs: Path, n: int, env: dict[str, str] | None = None
) -> Iterator[list[GatewayProcess]]:
    """`n` gateway processes on one config, stopped (SIGTERM, then SIGKILL) afterwards."""
    procs = [GatewayProcess(config, logs / f"gateway-{i}.log", env) for i in range(n)]
    try:
        for proc in procs:
            proc.start()
        yield procs
    finally:
        for proc in procs:
            proc.stop()
