"""GET /v1/realtime?model=… (WebSocket): the OpenAI Realtime API, relayed event for event.

The key comes in `Authorization: Bearer …` or, from browsers, as the subprotocol
`openai-insecure-api-key.<key>` (answered with the `realtime` subprotocol). Each attempt
connects the upstream first and upgrades the client only once it is up, so a refused or
unreachable upstream fails over. Then both directions are relayed unchanged; usage is read
from every `response.done` and billed as chat tokens. Whichever side closes first, the other
is closed too: an upstream close reaches the client with its code and reason, a client close
closes the upstream, and the attempt returns, releasing the channel's slot.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiohttp import WSMsgType, web
from aiohttp.http_websocket import WSCloseCode

from adapters.base_media import MessageSocket, RealtimeMeter
from adapters.errors import UpstreamError, UpstreamServerError
from adapters.media import realtime_adapter
from gateway import observe
from gateway.asr_client import CLOSED
from gateway.auth import authenticate, authenticate_secret
from gateway.catalog import Route
from gateway.dispatch import dispatch, metered
from gateway.errors import GatewayError, InvalidRequest
from gateway.keys import REQUEST_ID, UPSTREAM
from gateway.metering import Call
from gateway.store.records import ApiKey

ENDPOINT = "/v1/realtime"
KEY_PROTOCOL = "openai-insecure-api-key."
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Close codes a server may send on (RFC 6455 §7.4); others become 1011.
_SENDABLE = frozenset({1000, 1001, 1003, 1007, 1008, 1009, 1011, 1012, 1013})


@dataclass(frozen=True, slots=True)
class Closed:
    by_upstream: bool
    code: int
    reason: str


async def realtime(request: web.Request) -> web.StreamResponse:
    key = await _key(request)
    model = request.query.get("model", "")
    if not model:
        raise InvalidRequest("Missing required query parameter: 'model'.", param="model")
    # autoclose off: a client's close is answered once the upstream is closed and the
    # usage recorded, so the client sees the session end only when it has.
    ws = web.WebSocketResponse(
        protocols=("realtime",), max_msg_size=MAX_MESSAGE_BYTES, heartbeat=30.0, autoclose=False
    )
    if not ws.can_prepare(request).ok:
        raise InvalidRequest("This endpoint needs a WebSocket upgrade.", code="websocket_required")
    call = Call(request[REQUEST_ID], key.code, ENDPOINT, model, kind="realtime")

    async def attempt(route: Route) -> web.StreamResponse:
        adapter = realtime_adapter(route.channel.protocol)
        target = adapter.realtime_target(route.channel, request.query, request.headers)
        socket = await request.app[UPSTREAM].connect(target, route.stream_timeout)
        meter = adapter.realtime_meter()
        try:
            await observe.prepare(request, ws)
            call.mark_first_byte()
            closed = await relay(ws, socket, meter)
        finally:
            call.usage = meter.usage
            await socket.close()
        _finish(call, closed)
        with contextlib.suppress(ConnectionError, RuntimeError):
            reason = _reason(closed).encode()[:123]
            await ws.close(code=_code(closed.code), message=reason, drain=False)
        return ws

    try:
        return await metered(request, key, call, lambda: dispatch(request, call, key, attempt))
    except GatewayError as exc:
        if not ws.prepared:
            raise
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=exc.message.encode()[:123])
        return ws


async def _key(request: web.Request) -> ApiKey:
    if "Authorization" in request.headers:
        return await authenticate(request)
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    for protocol in (p.strip() for p in offered.split(",")):
        if protocol.startswith(KEY_PROTOCOL):
            return await authenticate_secret(request, protocol[len(KEY_PROTOCOL) :])
    return await authenticate(request)  # no key anywhere: the usual 401


async def relay(ws: web.WebSocketResponse, socket: MessageSocket, meter: RealtimeMeter) -> Closed:
    """Relay both ways until one side closes; returns who closed, and how."""
    tasks = [
        asyncio.ensure_future(_client_to_upstream(ws, socket)),
        asyncio.ensure_future(_upstream_to_client(ws, socket, meter)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return _closed(next(iter(done)))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _closed(task: asyncio.Future[Closed]) -> Closed:
    error = task.exception()
    if error is None:
        return task.result()
    if isinstance(error, UpstreamError):
        return Closed(True, WSCloseCode.INTERNAL_ERROR, error.message)
    if isinstance(error, ConnectionError):
        return Closed(False, WSCloseCode.ABNORMAL_CLOSURE, "")
    raise error


async def _client_to_upstream(ws: web.WebSocketResponse, socket: MessageSocket) -> Closed:
    while True:
        msg = await ws.receive()
        if msg.type is WSMsgType.TEXT:
            await socket.send(str(msg.data))
        elif msg.type is WSMsgType.BINARY:
            await socket.send(bytes(msg.data))
        elif msg.type is WSMsgType.CLOSE:
            return Closed(False, int(msg.data or WSCloseCode.OK), "")
        elif msg.type in CLOSED:
            return Closed(False, ws.close_code or WSCloseCode.ABNORMAL_CLOSURE, "")


async def _upstream_to_client(
    ws: web.WebSocketResponse, socket: MessageSocket, meter: RealtimeMeter
) -> Closed:
    while True:
        message = await socket.receive()
        if message is None:
            return Closed(True, socket.close_code or WSCloseCode.OK, socket.close_reason)
        if isinstance(message, str):
            meter.feed(message)
            await ws.send_str(message)
        else:
            await ws.send_bytes(message)


def _finish(call: Call, closed: Closed) -> None:
    if not closed.by_upstream or closed.code in (WSCloseCode.OK, WSCloseCode.GOING_AWAY):
        call.status = 200
        return
    call.fail(502, "upstream_closed")
    call.upstream_error = UpstreamServerError(_reason(closed))


def _code(code: int) -> int:
    return code if code in _SENDABLE or 3000 <= code <= 4999 else WSCloseCode.INTERNAL_ERROR


def _reason(closed: Closed) -> str:
    if not closed.by_upstream:
        return ""
    return f"upstream closed: {closed.reason}" if closed.reason else "upstream closed"
