"""Graceful shutdown: let in-flight requests finish, up to a deadline, then end them cleanly.

On SIGTERM aiohttp stops listening and closes idle connections, then runs `on_shutdown`,
where `Drain.run` waits until no API request is in flight or `server.shutdown_timeout_s`
passes. At the deadline every request still running is interrupted: its task is cancelled
(the handler's `finally` releases its slot and records its usage), and the observe middleware
ends the response — a stream with an in-stream error event (`gateway_shutdown`), a WebSocket
with close code 1001, anything not yet started with a 503. The usage writer's cleanup then
flushes every record, and the process exits 0.

Invariants: a request is in `inflight` from the middleware's start to its end, so the drain
never misses one; a request is interrupted at most once; usage records reach their request's
`Timing` through the usage writer's listeners while the request is still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Sequence

from aiohttp import web
from aiohttp.http_websocket import WSCloseCode

from gateway.errors import ServiceUnavailable, sse_error
from gateway.keys import DRAIN, SETTINGS, TIMING, USAGE
from gateway.metering import CLIENT_CLOSED
from gateway.store.records import UsageRecord
from gateway.tasks import stop
from gateway.timing import Timing

log = logging.getLogger(__name__)

GRACE_S = 5.0  # after interrupting: how long the handlers get to wind down
PARENT_POLL_S = 1.0
SHUTDOWN_STATUS = 503
SHUTDOWN_CODE = "gateway_shutdown"


class ShuttingDown(ServiceUnavailable):
    code = SHUTDOWN_CODE


class Drain:
    """The API requests in flight, and what SIGTERM does with them."""

    def __init__(self, timeout_s: float, *, grace_s: float = GRACE_S) -> None:
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self.inflight: dict[str, Timing] = {}
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self, timing: Timing) -> None:
        self.inflight[timing.request_id] = timing
        self._idle.clear()

    def leave(self, timing: Timing) -> None:
        self.inflight.pop(timing.request_id, None)
        if not self.inflight:
            self._idle.set()

    def attach(self, records: Sequence[UsageRecord]) -> None:
        """A usage listener: hand each record to its request's timing."""
        for record in records:
            timing = self.inflight.get(record.request_id)
            if timing is not None:
                timing.record = record

    async def run(self) -> None:
        """Wait for the requests in flight; past the deadline, interrupt the rest."""
        self.draining = True
        if self.inflight:
            log.info("draining %d requests (up to %.1fs)", len(self.inflight), self.timeout_s)
        if await self._wait(self.timeout_s):
            return
        log.warning("shutdown deadline passed: ending %d requests", len(self.inflight))
        for timing in list(self.inflight.values()):
            timing.interrupt()
        if not await self._wait(self.grace_s):
            log.error("%d requests did not end after being interrupted", len(self.inflight))

    async def _wait(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), seconds)
        return not self.inflight


def cancelled_status(request: web.Request) -> tuple[int, str]:
    """Status and error code for a handler's usage record when its task was cancelled.

    `call.fail(*cancelled_status(request))` in a handler's `except CancelledError` tells a
    shutdown interruption (503 gateway_shutdown) from a client that went away (499).
    """
    timing = request.get(TIMING)
    if timing is not None and timing.interrupted:
        return SHUTDOWN_STATUS, SHUTDOWN_CODE
    return CLIENT_CLOSED, "client_closed"


async def end_interrupted(request: web.Request, timing: Timing) -> web.StreamResponse:
    """End the response of a request the drain interrupted (in its own, cancelled task).

    Not started yet: a 503. An SSE stream: an error event, then its end. A WebSocket: close
    code 1001 (going away). Any other started body (audio, bytes): the connection is closed
    without the final chunk, so the client knows the body is incomplete.
    """
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
    error = ShuttingDown("The gateway is shutting down; the response was cut short.")
    response = timing.response
    if response is None:
        raise error
    with contextlib.suppress(ConnectionError, RuntimeError):
        if isinstance(response, web.WebSocketResponse):
            await response.close(code=WSCloseCode.GOING_AWAY, message=b"gateway shutting down")
        elif timing.stream == "sse":
            await response.write(sse_error(error))
            await response.write_eof()
        elif request.transport is not None:
            request.transport.close()
    return response


async def _drain_ctx(app: web.Application) -> AsyncIterator[None]:
    app[USAGE].listeners.append(app[DRAIN].attach)
    yield


async def _on_shutdown(app: web.Application) -> None:
    await app[DRAIN].run()


def setup(app: web.Application) -> None:
    """The drain; call after the usage writer is set up."""
    app[DRAIN] = Drain(app[SETTINGS].server.shutdown_timeout_s)
    app.cleanup_ctx.append(_drain_ctx)
    app.on_shutdown.append(_on_shutdown)


def watch_parent(app: web.Application, parent_pid: int) -> None:
    """A worker shuts down gracefully when its supervisor is gone."""

    async def watch(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_watch(parent_pid))
        yield
        await stop(task)

    app.cleanup_ctx.append(watch)


async def _watch(parent_pid: int) -> None:
    while True:
        await asyncio.sleep(PARENT_POLL_S)
        if os.getppid() != parent_pid:
            break
    log.warning("the supervisor (pid %d) is gone: shutting down", parent_pid)
    os.kill(os.getpid(), signal.SIGTERM)


def handle_signals(app: web.Application) -> None:
    """SIGTERM/SIGINT start one graceful shutdown; more signals meanwhile are ignored.

    (aiohttp's own handler would raise again on a second signal and cut the drain short.)
    """

    async def installed(app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        fired: list[bool] = []

        def once() -> None:
            if fired:
                log.info("already shutting down")
                return
            fired.append(True)
            raise web.GracefulExit()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, once)
        yield
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)

    app.cleanup_ctx.append(installed)
