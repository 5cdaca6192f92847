"""Usage records: appended on the request path, written to the store in batches off it.

`record()` is a list append. A background task flushes every `flush_interval_s` or as soon
as `batch_size` records wait; a failed write keeps the batch for the next flush, and
shutdown flushes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.keys import SETTINGS, STORE, USAGE
from gateway.store.base import Store
from gateway.store.records import UsageRecord

log = logging.getLogger(__name__)


class UsageWriter:
    def __init__(self, store: Store, *, flush_interval_s: float, batch_size: int) -> None:
        self._store = store
        self._interval = flush_interval_s
        self._batch_size = batch_size
        self._pending: list[UsageRecord] = []
        self._wake = asyncio.Event()
        self.written = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, record: UsageRecord) -> None:
        self._pending.append(record)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    async def flush(self) -> None:
        while self._pending:
            batch = self._pending[: self._batch_size]
            await self._store.insert_usage(batch)
            del self._pending[: len(batch)]
            self.written += len(batch)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("writing %d usage records failed; will retry", self.pending)


async def _usage_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS].usage
    writer = UsageWriter(
        app[STORE], flush_interval_s=settings.flush_interval_s, batch_size=settings.batch_size
    )
    app[USAGE] = writer
    task = asyncio.create_task(writer.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    try:
        await writer.flush()
    except Exception:
        log.exception("final usage flush failed: %d records not written", writer.pending)


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_usage_ctx)
