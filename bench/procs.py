"""Child processes for the bench: start (optionally pinned to a CPU), wait until up, stop.

Every child gets its own session (process group), so stopping it kills whatever it spawned
too, and the Ctrl-C sent to the terminal's foreground group reaches only the bench, which
then stops its children in order.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path


class BenchError(RuntimeError):
    """The bench cannot go on; the message says why (shown to the user as is)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pin_prefix(cpu: int | None) -> list[str]:
    """The `taskset` prefix that runs a command on `cpu`, or nothing for no pinning."""
    return [] if cpu is None else ["taskset", "-c", str(cpu)]


@contextlib.contextmanager
def running(
    argv: Sequence[str],
    *,
    log: Path,
    cpu: int | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` (pinned to `cpu`) with output to `log`; stop its process group on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*pin_prefix(cpu), *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=None if env is None else dict(env),
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after `grace_s`."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    # Stragglers in the group (or the leader itself after the grace period).
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def wait_http_ok(
    url: str, *, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 30.0
) -> None:
    """Poll `GET url` until it answers 200; fail early if `proc` exits, late on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{url}: the process exited with {proc.returncode}\n{tail(log)}")
        if _http_status(url) == 200:
            return
        time.sleep(0.1)
    raise BenchError(f"{url}: no 200 within {timeout_s:.0f} s\n{tail(log)}")


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def tail(log: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file, indented, for error messages."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"    ({log} unreadable)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (from /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return float("nan")
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat.rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


CpuTimes = Mapping[int, tuple[int, int]]


def cpu_times() -> CpuTimes:
    """Per CPU: (busy, total) clock ticks since boot, from /proc/stat.

    Busy includes system and softirq time, which loopback networking spends largely outside
    any process's own accounting; idle and iowait are the rest.
    """
    out = {}
    for line in Path("/proc/stat").read_text(encoding="ascii").splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
        idle = ticks[3] + ticks[4]
        out[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return out


def busy_share(
    before: Mapping[int, tuple[int, int]], after: Mapping[int, tuple[int, int]], cpu: int
) -> float:
    """How busy `cpu` was between two `cpu_times()` snapshots (0.0 to 1.0)."""
    busy = after[cpu][0] - before[cpu][0]
    total = after[cpu][1] - before[cpu][1]
    return busy / total if total > 0 else float("nan")


def wait_quiet(
    cpus: Sequence[int], *, busy_below: float = 0.15, window_s: float = 0.5, timeout_s: float = 30.0
) -> bool:
    """Wait until each of `cpus` is less than `busy_below` busy over a `window_s` window.

    On a machine shared with other work (a developer's, CI's) a burst of someone else's load
    would end up in the numbers. False when the cores are still busy after `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        before = cpu_times()
        time.sleep(window_s)
        after = cpu_times()
        if all(busy_share(before, after, cpu) < busy_below for cpu in cpus):
            return True
        if time.monotonic() > deadline:
            return False


def run_checked(argv: Sequence[str], *, timeout_s: float, cwd: Path | None = None) -> str:
    """Run a short command to completion and return its stdout; BenchError on failure."""
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv)}: no answer within {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise BenchError(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()[-30:]
        detail = "\n".join("    " + line for line in output)
        raise BenchError(f"{' '.join(argv)} exited with {done.returncode}\n{detail}")
    return done.stdout


def ensure_tool(binary: str, *, package: str) -> None:
    """Install `package` with apt-get when `binary` is missing and we may (root on Debian)."""
    if shutil.which(binary):
        return
    if os.geteuid() != 0 or not Path("/etc/debian_version").exists():
        raise BenchError(
            f"{binary} is not installed, and this is not root on Debian: install it "
            f"(e.g. `apt-get install {package}` or `brew install {package}`) and run again"
        )
    print(f"bench: {binary} missing, installing the Debian package {package}", flush=True)
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    try:
        run_checked(install, timeout_s=600)
    except BenchError:
        run_checked(["apt-get", "update"], timeout_s=600)
        run_checked(install, timeout_s=600)
    if not shutil.which(binary):
        raise BenchError(f"apt-get installed {package} but {binary} is still not on PATH")
