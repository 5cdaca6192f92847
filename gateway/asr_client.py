"""The client side of a realtime ASR session: the upgraded WebSocket and its first command.

It lives across failover attempts: the upgrade happens once, and the StartTranscription the
client sent is kept, so an attempt on the next channel starts the same task. Until Start,
text `ping` is answered `pong`; audio, a Stop or anything that is not a command ends the
session with TaskFailed (and no upstream error: the client was wrong).
"""

from __future__ import annotations

import contextlib

from aiohttp import WSMsgType, web
from aiohttp.http_websocket import WSCloseCode

from adapters.asr_events import IDLE_TIMEOUT, INVALID_MESSAGE, AsrEvent, Failed
from adapters.nls import NlsError, Start, Stop, new_id, parse_command, render_event
from gateway import observe

PING = "ping"
PONG = "pong"
CLOSED = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR})


class ClientFailed(Exception):
    """The client broke the protocol; `event` tells it how before the socket is closed."""

    def __init__(self, event: Failed) -> None:
        super().__init__(event.message)
        self.event = event


class AsrClient:
    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.request = request
        self.ws = ws
        self.task_id = new_id()
        self.start: Start | None = None

    async def upgrade(self) -> None:
        if not self.ws.prepared:
            await observe.prepare(self.request, self.ws)

    async def first_command(self, timeout_s: float) -> Start | None:
        """The client's StartTranscription (kept for later attempts); None if it left."""
        while self.start is None:
            try:
                msg = await self.ws.receive(timeout=timeout_s)
            except TimeoutError:
                raise ClientFailed(
                    Failed(IDLE_TIMEOUT, f"No StartTranscription within {timeout_s:.0f} s.")
                ) from None
            if msg.type in CLOSED:
                return None
            if msg.type is WSMsgType.BINARY:
                raise ClientFailed(Failed(INVALID_MESSAGE, "Audio before StartTranscription."))
            if msg.type is WSMsgType.TEXT:
                await self._before_start(str(msg.data))
        return self.start

    async def _before_start(self, text: str) -> None:
        if text == PING:
            await self.ws.send_str(PONG)
            return
        try:
            command = parse_command(text)
        except NlsError as exc:
            raise ClientFailed(Failed(INVALID_MESSAGE, str(exc))) from None
        if isinstance(command, Stop):
            raise ClientFailed(Failed(INVALID_MESSAGE, "StopTranscription before Start."))
        self.start = command
        self.task_id = command.task_id

    async def send(self, event: AsrEvent) -> None:
        await self.ws.send_str(render_event(event, self.task_id))

    async def end(self, event: AsrEvent | None, code: int = WSCloseCode.OK) -> None:
        """Send the last event (if the client is still there), then close the socket.

        The close does not wait for the client's answering close frame: the session is over.
        """
        with contextlib.suppress(ConnectionError, RuntimeError):
            if event is not None and not self.ws.closed:
                await self.send(event)
            await self.ws.close(code=code, drain=False)
