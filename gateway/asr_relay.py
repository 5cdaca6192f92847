"""Relaying a started realtime ASR session: client audio up, recognition events down.

Three tasks per session, the first to end decides how it ends:

- `_from_client` reads the client's socket: binary frames go into a bounded backlog
  (`backlog_frames`, default 5 s of 20 ms frames); text `ping` is answered `pong`; Stop goes
  into the backlog behind the audio. A full backlog means the upstream does not keep up:
  the session fails with TaskFailed `BACKLOG_EXCEEDED` rather than buffer without bound.
- `_to_upstream` drains the backlog through the adapter's session to the upstream socket,
  counting the audio (billed by the second).
- `_from_upstream` turns upstream messages into events for the client; Completed or Failed
  ends the session.

A client that goes away ends it at once (499); an upstream that closes or errs ends it with
TaskFailed (502). A client silent for `idle_s`, or a Stop not completed within `stop_s`,
fails it too. Whatever ends it, the tasks are cancelled in `finally`; the caller closes the
upstream socket and `dispatch` releases the slot.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import WSMsgType
from aiohttp.http_websocket import WSCloseCode

from adapters.asr_events import (
    BACKLOG_EXCEEDED,
    IDLE_TIMEOUT,
    INVALID_MESSAGE,
    UPSTREAM_ERROR,
    AsrEvent,
    Completed,
    Failed,
)
from adapters.base_media import AsrParams, AsrSession, MessageSocket
from adapters.errors import UpstreamError
from adapters.nls import NlsError, Stop, parse_command
from gateway.asr_client import CLOSED, PING, PONG, AsrClient
from gateway.metering import CLIENT_CLOSED

log = logging.getLogger(__name__)

_STOP = b""  # the backlog's marker for StopTranscription (an empty frame is never queued)


@dataclass(frozen=True, slots=True)
class Ending:
    status: int  # for the usage record: 200, 400, 499, 502, 503, 504
    code: str  # error code, "" on success
    event: AsrEvent | None  # the last event for the client (None: it is gone)

    @property
    def close_code(self) -> int:
        if isinstance(self.event, Failed):
            return WSCloseCode.POLICY_VIOLATION if self.status < 500 else WSCloseCode.INTERNAL_ERROR
        return WSCloseCode.OK


@dataclass(frozen=True, slots=True)
class Limits:
    backlog_frames: int = 250
    idle_s: float = 10.0
    stop_s: float = 15.0


def bytes_per_second(params: AsrParams) -> int:
    return params.sample_rate * 2  # 16-bit mono


class AsrRelay:
    def __init__(
        self, client: AsrClient, socket: MessageSocket, session: AsrSession, limits: Limits
    ) -> None:
        self.client = client
        self.socket = socket
        self.session = session
        self.limits = limits
        self.audio_bytes = 0
        self._backlog: asyncio.Queue[bytes] = asyncio.Queue(limits.backlog_frames)
        self._loop = asyncio.get_running_loop()
        self._heard = self._loop.time()
        self._stop_deadline: float | None = None

    async def run(self) -> Ending:
        tasks: set[asyncio.Future[Ending | None]] = {
            asyncio.ensure_future(self._from_client()),
            asyncio.ensure_future(self._to_upstream()),
            asyncio.ensure_future(self._from_upstream()),
        }
        try:
            return await self._first_ending(tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _first_ending(self, pending: set[asyncio.Future[Ending | None]]) -> Ending:
        while pending:
            done, pending = await asyncio.wait(
                pending, timeout=self._wait_s(), return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                ending = _outcome(task)
                if ending is not None:
                    return ending
            overdue = self._overdue()
            if overdue is not None:
                return overdue
        return Ending(502, "upstream_closed", Failed(UPSTREAM_ERROR, "The session ended."))

    def _wait_s(self) -> float:
        now = self._loop.time()
        if self._stop_deadline is not None:
            return max(0.0, self._stop_deadline - now)
        return max(0.0, self._heard + self.limits.idle_s - now)

    def _overdue(self) -> Ending | None:
        now = self._loop.time()
        if self._stop_deadline is not None and now >= self._stop_deadline:
            message = f"The upstream did not complete within {self.limits.stop_s:.0f} s of Stop."
            return Ending(504, "asr_stop_timeout", Failed(UPSTREAM_ERROR, message))
        if self._stop_deadline is None and now >= self._heard + self.limits.idle_s:
            message = f"No audio or command for {self.limits.idle_s:.0f} s."
            return Ending(400, "idle_timeout", Failed(IDLE_TIMEOUT, message))
        return None

    async def _from_client(self) -> Ending | None:
        ws, backlog = self.client.ws, self._backlog
        while True:
            msg = await ws.receive()
            self._heard = self._loop.time()
            if msg.type is WSMsgType.BINARY:
                if not msg.data or self._stop_deadline is not None:
                    continue
                try:
                    backlog.put_nowait(msg.data)
                except asyncio.QueueFull:
                    return self._overflow()
            elif msg.type is WSMsgType.TEXT:
                ending = await self._command(str(msg.data))
                if ending is not None:
                    return ending
            elif msg.type in CLOSED:
                return Ending(CLIENT_CLOSED, "client_closed", None)

    async def _command(self, text: str) -> Ending | None:
        if text == PING:
            await self.client.ws.send_str(PONG)
            return None
        try:
            command = parse_command(text)
        except NlsError as exc:
            return Ending(400, "invalid_message", Failed(INVALID_MESSAGE, str(exc)))
        if not isinstance(command, Stop):
            message = "StartTranscription again: the task has started."
            return Ending(400, "invalid_message", Failed(INVALID_MESSAGE, message))
        if self._stop_deadline is None:
            try:
                self._backlog.put_nowait(_STOP)
            except asyncio.QueueFull:
                return self._overflow()
            self._stop_deadline = self._loop.time() + self.limits.stop_s
        return None

    def _overflow(self) -> Ending:
        seconds = self.limits.backlog_frames * 0.02
        message = (
            f"The upstream is not keeping up: more than {self.limits.backlog_frames} audio "
            f"frames (about {seconds:.0f} s) wait to be sent."
        )
        return Ending(503, "asr_backlog_exceeded", Failed(BACKLOG_EXCEEDED, message))

    async def _to_upstream(self) -> Ending | None:
        while True:
            frame = await self._backlog.get()
            try:
                if not frame:  # _STOP
                    return await self._stop()
                for message in self.session.audio(frame):
                    await self.socket.send(message)
            except UpstreamError as exc:
                return Ending(502, exc.code, Failed(UPSTREAM_ERROR, exc.message))
            self.audio_bytes += len(frame)

    async def _stop(self) -> Ending | None:
        messages, events = self.session.stop()
        for message in messages:
            await self.socket.send(message)
        for event in events:
            ending = _terminal(event)
            if ending is not None:
                return ending
            await self.client.send(event)
        return None

    async def _from_upstream(self) -> Ending | None:
        while True:
            message = await self.socket.receive()
            if message is None:
                code, reason = self.socket.close_code, self.socket.close_reason
                text = f"The upstream closed the session ({code} {reason})".strip() + "."
                return Ending(502, "upstream_closed", Failed(UPSTREAM_ERROR, text))
            for event in self.session.receive(message):
                ending = _terminal(event)
                if ending is not None:
                    return ending
                await self.client.send(event)


def _terminal(event: AsrEvent) -> Ending | None:
    if isinstance(event, Completed):
        return Ending(200, "", event)
    if isinstance(event, Failed):
        status = 400 if 40000000 <= event.status < 50000000 else 502
        return Ending(status, "upstream_task_failed", event)
    return None


def _outcome(task: asyncio.Future[Ending | None]) -> Ending | None:
    """A finished task's ending; a task that raised ends the session as an upstream error."""
    if task.cancelled():
        return None
    error = task.exception()
    if error is None:
        return task.result()
    if isinstance(error, ConnectionError):
        return Ending(CLIENT_CLOSED, "client_closed", None)
    log.error("realtime ASR relay task failed", exc_info=error)
    message = f"The relay failed: {type(error).__name__}."
    return Ending(502, "relay_error", Failed(UPSTREAM_ERROR, message))
