"""Redis writes made off the request path, in batches, by one task per process.

`post` is a list append, so a handler's `finally` can hand off a lease release that no
cancellation can interrupt and that costs the response no round trip. The task starts
everything pending together (up to `BATCH` at a time) and waits for the whole batch: on
the lean Redis client, writes started in one tick leave in one pipelined write, so a busy
process pays one round trip per batch, not per write. Writes of one batch are not ordered
among themselves (on one connection they still reach Redis in posting order). A failed
write is logged (Redis failures quietly), counted in `failed` and dropped: a lease then
lives out its TTL. `close` lets the task finish everything posted before it returns.

A write the Redis client has already started (the lean client's script calls are futures
that run unawaited) needs no task: `started` only watches it, with the same failure
accounting, or hands its outcome to `done`; `close` waits for those too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from gateway.routing.quietlog import QuietLog
from ratelimit import RateLimitStoreError
from ratelimit.redis import store_error

log = logging.getLogger(__name__)

Op = Callable[[], Awaitable[None]]
#: Told how a started write ended: None, or its error (a ``RateLimitStoreError`` for Redis).
Done = Callable[[Exception | None], None]

#: Writes started together at most; bounds the connections a redis-py (cluster) pool opens.
BATCH = 64


class Outbox:
    def __init__(self) -> None:
        self._pending: deque[Op] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._started: set[asyncio.Future[Any]] = set()
        self._failures = QuietLog(log)
        self.failed = 0

    def post(self, op: Op) -> None:
        self._pending.append(op)
        self._wake.set()

    def started(self, write: asyncio.Future[Any], done: Done | None = None) -> None:
        """Watch a write already under way; `done` (else the failure count) gets its end."""
        self._started.add(write)
        write.add_done_callback(partial(self._ended, done))

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._started)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._started:
            await asyncio.wait(list(self._started))

    def _ended(self, done: Done | None, write: asyncio.Future[Any]) -> None:
        self._started.discard(write)
        raised = None if write.cancelled() else write.exception()
        error = store_error(raised) if raised is not None else None
        if error is not None and not isinstance(error, Exception):
            error = None  # KeyboardInterrupt and the like end the process anyway
        if done is not None:
            done(error)
        elif error is not None:
            self._failed(error)

    def _failed(self, error: Exception) -> None:
        self.failed += 1
        if isinstance(error, RateLimitStoreError):
            self._failures.warning("a background routing write to Redis failed: %s", error)
        else:
            log.error("a background routing write failed", exc_info=error)

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
        except Exception as exc:  # noqa: BLE001 - counted and logged with its traceback
            self._failed(exc)
