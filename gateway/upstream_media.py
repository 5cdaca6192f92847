"""The I/O half of the media adapters: multipart bodies streamed from blobs, upstream sockets.

`multipart(form)` builds the body of an `UpstreamForm` with a known length (so the upstream
gets a Content-Length, not chunks) whose file parts are read from their blobs as they are
sent. `open_socket` opens an upstream WebSocket and maps its failures onto the upstream
error tree: a refused handshake by its status, like an HTTP answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import ClientTimeout, ClientWSTimeout, WSMsgType
from aiohttp.payload import AsyncIterablePayload

from adapters.base_media import Blob, Message, SocketTarget, UpstreamForm
from adapters.errors import (
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
DEFAULT_CONNECT_S = 10.0
_CLOSED = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR})


class BlobPayload(AsyncIterablePayload):
    """A blob's chunks with its size known, so the multipart body has a length."""

    def __init__(self, blob: Blob, **kwargs: Any) -> None:
        super().__init__(blob.chunks(), **kwargs)
        self._size = blob.size


def multipart(form: UpstreamForm) -> aiohttp.MultipartWriter:
    writer = aiohttp.MultipartWriter("form-data")
    for name, value in form.fields:
        part = writer.append(value, {"Content-Type": "text/plain; charset=utf-8"})
        part.set_content_disposition("form-data", name=name)
    for file in form.files:
        content_type = file.blob.content_type or "application/octet-stream"
        payload = BlobPayload(file.blob, content_type=content_type)
        payload.set_content_disposition("form-data", name=file.name, filename=file.blob.filename)
        writer.append_payload(payload)
    return writer


class HttpSocket:
    """aiohttp's client WebSocket as a `MessageSocket`."""

    __slots__ = ("_ws", "close_code", "close_reason")

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self.close_code: int | None = None
        self.close_reason = ""

    async def send(self, message: Message) -> None:
        try:
            if isinstance(message, bytes):
                await self._ws.send_bytes(message)
            else:
                await self._ws.send_str(message)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            raise UpstreamUnavailable(f"The upstream socket broke: {type(exc).__name__}.") from exc

    async def receive(self) -> Message | None:
        msg = await self._ws.receive()
        if msg.type is WSMsgType.TEXT:
            return str(msg.data)
        if msg.type is WSMsgType.BINARY:
            return bytes(msg.data)
        if msg.type in _CLOSED:
            self.close_code = self._ws.close_code
            self.close_reason = str(msg.extra or "") if msg.type is WSMsgType.CLOSE else ""
            return None
        return await self.receive()  # PING/PONG are answered by aiohttp

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        await self._ws.close(code=code, message=reason.encode()[:120])


async def open_socket(
    session: aiohttp.ClientSession, target: SocketTarget, limits: ClientTimeout
) -> HttpSocket:
    """Connect (handshake bounded by the channel's connect timeout), or an `UpstreamError`."""
    try:
        async with asyncio.timeout(limits.connect or DEFAULT_CONNECT_S):
            ws = await session.ws_connect(
                target.url,
                headers=dict(target.headers),
                protocols=target.protocols,
                timeout=ClientWSTimeout(ws_receive=None, ws_close=5.0),
                max_msg_size=MAX_MESSAGE_BYTES,
                autoping=True,
                heartbeat=30.0,
            )
    except aiohttp.WSServerHandshakeError as exc:
        raise handshake_error(exc.status, exc.message) from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamTimeout("The upstream did not accept the WebSocket in time.") from exc
    except aiohttp.ClientError as exc:
        name = type(exc).__name__
        raise UpstreamUnavailable(f"The upstream could not be reached: {name}.") from exc
    return HttpSocket(ws)


def handshake_error(status: int, message: str) -> UpstreamError:
    text = f"The upstream refused the WebSocket ({status}): {message}"
    if status == 429:
        return UpstreamRateLimited(text)
    if status in (401, 403) or status >= 500:
        return UpstreamServerError(text)
    return UpstreamBadRequest(text, status=400)
