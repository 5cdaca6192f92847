"""Stopping background tasks when the app shuts down."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

RECANCEL_S = 0.1


async def stop(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel `tasks` and wait until every one has ended.

    A task still running `RECANCEL_S` after its cancellation is cancelled again: a library
    that swallows one (redis-py's pub/sub does when it comes while connecting) would
    otherwise leave the task, and the shutdown waiting on it, blocked on its next read.
    A task that ended by an error other than its cancellation has the error logged.
    """
    pending = {task for task in tasks if task is not None}
    while pending:
        for task in pending:
            task.cancel()
        done, pending = await asyncio.wait(pending, timeout=RECANCEL_S)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("a background task failed", exc_info=task.exception())
