"""Redis writes made off the request path, in batches, by one task per process.

`post` is a list append, so a handler's `finally` can hand off a lease release that no
cancellation can interrupt and that costs the response no round trip. The task starts
everything pending together (up to `BATCH` at a time) and waits for the whole batch: on
the lean Redis client, writes started in one tick leave in one pipelined write, so a busy
process pays one round trip per batch, not per write. Writes of one batch are not ordered
among themselves (on one connection they still reach Redis in posting order). A failed
write is logged (Redis failures quietly), counted in `failed` and dropped: a lease then
lives out its TTL. `close` lets the task finish everything posted before it returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from gateway.routing.quietlog import QuietLog
from ratelimit import RateLimitStoreError

log = logging.getLogger(__name__)

Op = Callable[[], Awaitable[None]]

#: Writes started together at most; bounds the connections a redis-py (cluster) pool opens.
BATCH = 64


class Outbox:
    def __init__(self) -> None:
        self._pending: deque[Op] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._failures = QuietLog(log)
        self.failed = 0

    def post(self, op: Op) -> None:
        self._pending.append(op)
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._closing or self._pending:
            await self._wake.wait()
            self._wake.clear()
            pending = self._pending
            while pending:
                if len(pending) == 1:  # the quiet case: no task, no gather
                    await self._run_one(pending.popleft())
                    continue
                batch = [pending.popleft() for _ in range(min(len(pending), BATCH))]
                await asyncio.gather(*(self._run_one(op) for op in batch))

    async def _run_one(self, op: Op) -> None:
        try:
            await op()
        except RateLimitStoreError as exc:
            self.failed += 1
            self._failures.warning("a background routing write to Redis failed: %s", exc)
        except Exception:
            self.failed += 1
            log.exception("a background routing write failed")
