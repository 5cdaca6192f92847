"""Usage records: appended on the request path, written to the store in batches off it.

`record()` is a list append. A background task flushes every `flush_interval_s`, or as soon
as `batch_size` records wait. When the database fails, the batch goes to the spool (fsynced)
and is replayed once the database answers; shutdown flushes what is left.

Loss bound: a crash loses at most the records still in memory, i.e. those of the last flush
interval; spooled records survive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from aiohttp import web

from gateway.keys import SETTINGS, STORE, USAGE
from gateway.spool import Spool
from gateway.store.base import Store
from gateway.store.records import UsageRecord
from gateway.tasks import stop

log = logging.getLogger(__name__)

Listener = Callable[[Sequence[UsageRecord]], None]


class UsageWriter:
    def __init__(
        self, store: Store, spool: Spool, *, flush_interval_s: float, batch_size: int
    ) -> None:
        self._store = store
        self.spool = spool
        self._interval = flush_interval_s
        self._batch_size = batch_size
        self._pending: list[UsageRecord] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.listeners: list[Listener] = []  # told of every record as it is recorded
        self.flushed: list[Callable[[], None]] = []  # told after each successful flush
        self.written = 0
        self.errors = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, record: UsageRecord) -> None:
        self._pending.append(record)
        for listener in self.listeners:
            listener((record,))
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    async def flush(self) -> None:
        """Write what waits (spool first, in order); on a database failure, spool it."""
        async with self._lock:
            if self.spool.waiting():
                await self._replay()
            while self._pending:
                batch = self._pending[: self._batch_size]
                try:
                    await self._store.insert_usage(batch)
                except Exception:
                    self.errors += 1
                    log.warning(
                        "usage: database write failed, spooling %d records",
                        len(batch),
                        exc_info=True,
                    )
                    await asyncio.to_thread(self.spool.append, batch)
                else:
                    self.written += len(batch)
                del self._pending[: len(batch)]
        for callback in self.flushed:
            callback()

    async def _replay(self) -> None:
        async with self.spool.locked():
            records = await asyncio.to_thread(self.spool.read)
            for start in range(0, len(records), self._batch_size):
                await self._store.insert_usage(records[start : start + self._batch_size])
            self.spool.clear()
        log.info("usage: replayed %d spooled records", len(records))
        self.written += len(records)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                self.errors += 1
                log.exception("usage flush failed; %d records wait", self.pending)


async def _usage_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    spool = Spool(Path(settings.server.data_dir) / "usage.spool")
    writer = UsageWriter(
        app[STORE],
        spool,
        flush_interval_s=settings.usage.flush_interval_s,
        batch_size=settings.usage.batch_size,
    )
    app[USAGE] = writer
    task = asyncio.create_task(writer.run())
    yield
    await stop(task)
    try:
        await writer.flush()
    except Exception:
        log.exception("final usage flush failed: %d records not written", writer.pending)


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_usage_ctx)
