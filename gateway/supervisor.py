"""`serve --workers N`: one supervisor process keeping N worker processes on one port.

Each worker is a fresh `python -m gateway serve --worker-of <supervisor pid>` that binds the
port itself with SO_REUSEPORT, so the kernel spreads connections across the workers. Workers
run in their own session: a terminal's Ctrl-C reaches the supervisor only, which forwards
one SIGTERM to each worker.

- A worker that exits while the supervisor is not stopping is restarted, after a delay that
  doubles while workers keep dying young (up to `MAX_RESTART_DELAY_S`).
- SIGTERM or SIGINT: forward SIGTERM, wait for the workers to drain (their own
  `server.shutdown_timeout_s`, plus a margin), SIGKILL any left, exit 0 when all exited 0.
- Metrics: every worker writes to files in the multiprocess directory; the supervisor empties
  it at start and marks each dead worker's live gauges gone (`mark_process_dead`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead

log = logging.getLogger(__name__)

FIRST_RESTART_DELAY_S = 0.5
MAX_RESTART_DELAY_S = 30.0
YOUNG_S = 10.0  # a worker that dies younger than this makes the next restart wait longer
STOP_MARGIN_S = 10.0

Argv = Callable[[], Sequence[str]]


def reset_multiproc_dir(path: Path) -> None:
    """An empty directory for the workers' metric files (stale files would add up)."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


class Supervisor:
    def __init__(
        self,
        argv: Argv,
        env: Mapping[str, str],
        *,
        workers: int,
        stop_timeout_s: float,
        multiproc_dir: Path,
    ) -> None:
        self._argv = argv
        self._env = dict(env)
        self._count = workers
        self._stop_timeout_s = stop_timeout_s
        self._multiproc_dir = multiproc_dir
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._stopping = asyncio.Event()
        self.restarts = 0

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        keepers = [asyncio.create_task(self._keep(index)) for index in range(self._count)]
        await self._stopping.wait()
        self._signal_all(signal.SIGTERM)
        deadline = self._stop_timeout_s + STOP_MARGIN_S
        _, late = await asyncio.wait(keepers, timeout=deadline)
        if late:
            log.error("supervisor: workers did not stop in %.0fs; killing them", deadline)
            self._signal_all(signal.SIGKILL)
            await asyncio.wait(late)
        return 0 if all(keeper.result() == 0 for keeper in keepers) else 1

    def stop(self) -> None:
        if not self._stopping.is_set():
            log.info("supervisor: stopping %d workers", len(self._procs))
            self._stopping.set()

    def _signal_all(self, sig: signal.Signals) -> None:
        for proc in self._procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)

    async def _keep(self, index: int) -> int:
        """Keep worker `index` running until the supervisor stops; its last exit code."""
        delay = FIRST_RESTART_DELAY_S
        while True:
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *self._argv(), env=self._env, start_new_session=True
            )
            self._procs[index] = proc
            if self._stopping.is_set():  # the stop came while it was starting
                proc.send_signal(signal.SIGTERM)
            code = await proc.wait()
            mark_process_dead(proc.pid, str(self._multiproc_dir))  # type: ignore[no-untyped-call]
            if self._stopping.is_set():
                return code
            young = time.monotonic() - started < YOUNG_S
            delay = min(delay * 2, MAX_RESTART_DELAY_S) if young else FIRST_RESTART_DELAY_S
            self.restarts += 1
            log.error("worker %d (pid %d) exited with %s; restarting", index, proc.pid, code)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return 0
