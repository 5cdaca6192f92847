"""The servers a test run starts do not outlive it, even when it ends without teardown, and
the scratch dirs such a run leaves behind are swept by the next."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers.mariadb import _sweep_left_behind
from tests.servers.redis import command

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parent.parent

# A run that starts a server, then ends the way pytest-timeout ends one: os._exit, no teardown.
KILLED_RUN = """
import os, sys
from pathlib import Path
from tests.servers.redis import RedisServer
server = RedisServer(Path(sys.argv[1]))
server.start()
print(server.port, server._proc.pid, flush=True)
os._exit(1)
"""


def _answers(port: int) -> bool:
    try:
        return command(port, "PING", timeout=0.5) == b"+PONG"
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_redis_server_ends_with_a_run_killed_before_its_teardown(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    port, pid = (int(word) for word in run.stdout.split())
    try:
        deadline = time.monotonic() + 10.0
        while (_answers(port) or _alive(pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _answers(port), "the server outlived the run that started it"
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_scratch_dirs_left_by_killed_runs_are_swept(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])  # a pid that no longer runs
    gone.wait()
    hour_ago = time.time() - 3600

    def scratch(name: str, pid: int | None, *, old: bool) -> Path:
        path = tmp_path / f"bella-mariadb-{name}"
        (path / "data").mkdir(parents=True)
        if pid is not None:
            (path / "mysqld.pid").write_text(f"{pid}\n")
        if old:
            os.utime(path, (hour_ago, hour_ago))
        return path

    left_behind = scratch("killed", gone.pid, old=True)
    never_started = scratch("broken", None, old=True)
    running = scratch("running", os.getpid(), old=True)  # another run's live server
    starting = scratch("starting", None, old=False)  # another run setting up
    stopped_a_while = scratch("stopped", gone.pid, old=False)  # a test stopped it
    _sweep_left_behind(tmp_path)
    assert not left_behind.exists()
    assert not never_started.exists()
    assert running.exists()
    assert starting.exists()
    assert stopped_a_while.exists()
