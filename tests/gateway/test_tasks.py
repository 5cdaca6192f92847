"""Stopping background tasks: even one whose first cancellation a library swallowed."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway.tasks import stop


async def swallows_one_cancellation(reads: list[str]) -> None:
    """A listener whose connect step swallows a cancellation, then blocks on a read."""
    try:
        await asyncio.sleep(3600)  # connecting
    except asyncio.CancelledError:
        reads.append("connected anyway")
    await asyncio.Event().wait()  # the read that no one will answer


async def test_a_task_that_swallowed_its_cancellation_is_stopped_all_the_same() -> None:
    reads: list[str] = []
    task = asyncio.create_task(swallows_one_cancellation(reads))
    await asyncio.sleep(0)
    await asyncio.wait_for(stop(task), 2.0)
    assert reads == ["connected anyway"]
    assert task.cancelled()


async def test_stop_takes_none_and_ended_tasks(caplog: pytest.LogCaptureFixture) -> None:
    ended = asyncio.create_task(asyncio.sleep(0))
    await ended
    await asyncio.wait_for(stop(None, ended), 1.0)
    assert not caplog.records


async def failing() -> None:
    await asyncio.sleep(0)
    raise RuntimeError("the background job broke")


async def test_a_task_that_failed_has_its_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    task = asyncio.create_task(failing())
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING, logger="gateway.tasks"):
        await stop(task)
    [record] = caplog.records
    assert record.exc_info is not None
    assert "the background job broke" in str(record.exc_info[1])


async def test_the_caller_being_cancelled_is_not_swallowed() -> None:
    stubborn = asyncio.create_task(swallows_one_cancellation([]))
    await asyncio.sleep(0)
    stopper = asyncio.create_task(stop(stubborn))
    await asyncio.sleep(0.01)  # within the first wait
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    await asyncio.wait_for(stop(stubborn), 2.0)
