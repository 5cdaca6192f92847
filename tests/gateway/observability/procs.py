"""The gateway as an operator runs it: `python -m gateway serve` in a process, signals and all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.servers.redis import free_port

READY_TIMEOUT_S = 20.0


def environment(data_dir: Path, **env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BELLA_", "PROMETHEUS_"))}
    return {**base, "BELLA_SERVER_DATA_DIR": str(data_dir), **env}


def init_demo(data_dir: Path) -> str:
    """`init --demo` in `data_dir`; the system key it prints."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "init", "--demo"],
        env=environment(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return next(line for line in done.stdout.splitlines() if line.startswith("sk-"))


class Served:
    """`serve` on a free loopback port; stdout and stderr in files under `directory`."""

    def __init__(self, directory: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout = directory / "stdout.log"
        self.stderr = directory / "stderr.log"
        argv = [sys.executable, "-m", "gateway", "serve", "--port", str(self.port), *args]
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=err, env=environment(directory / "data", **env)
            )

    async def ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, self.stderr.read_text()
                try:
                    async with http.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"the gateway did not start:\n{self.stderr.read_text()}")

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    async def exit_code(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"still running after {timeout_s}s")
            await asyncio.sleep(0.05)
        return self.proc.returncode

    def stop(self) -> None:
        """Last resort at teardown: the process must not outlive its test."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
