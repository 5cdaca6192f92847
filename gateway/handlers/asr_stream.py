"""GET /v1/audio/asr/stream?model=… (WebSocket): realtime recognition, Aliyun-NLS-style.

The key is checked (401), limits applied (429) and the model routed (404) before the
upgrade. Each attempt connects the upstream socket first, then upgrades the client (once),
takes its StartTranscription, starts the upstream session and waits for it to say Started:
a failure up to there tries the next channel. From TranscriptionStarted on, the session is
relayed (`gateway.asr_relay`) and failures reach the client as TaskFailed. The attempt runs
for the session's lifetime, so the channel's slot is held until it ends; it is billed by
the seconds of audio relayed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web
from aiohttp.http_websocket import WSCloseCode

from adapters.asr_events import (
    CLIENT_ERROR,
    INVALID_PARAMETER,
    SERVER_ERROR,
    UPSTREAM_ERROR,
    AsrEvent,
    Failed,
    Started,
)
from adapters.base import Channel
from adapters.base_media import AsrParams, AsrSession, MessageSocket
from adapters.errors import (
    UpstreamBadRequest,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.media import asr_stream_adapter
from gateway.asr_client import AsrClient, ClientFailed
from gateway.asr_relay import AsrRelay, Ending, Limits, bytes_per_second
from gateway.auth import authenticate
from gateway.billing import Measure
from gateway.catalog import Route
from gateway.dispatch import dispatch, metered
from gateway.errors import GatewayError, InvalidRequest
from gateway.handlers.media import seconds
from gateway.keys import REQUEST_ID, UPSTREAM
from gateway.metering import CLIENT_CLOSED, Call

ENDPOINT = "/v1/audio/asr/stream"
START_TIMEOUT_S = 10.0  # for the client's StartTranscription, and the upstream's Started
MAX_MESSAGE_BYTES = 1024 * 1024


async def asr_stream(request: web.Request) -> web.StreamResponse:
    key = await authenticate(request)
    model = request.query.get("model", "")
    if not model:
        raise InvalidRequest("Missing required query parameter: 'model'.", param="model")
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=30.0)
    if not ws.can_prepare(request).ok:
        raise InvalidRequest("This endpoint needs a WebSocket upgrade.", code="websocket_required")
    call = Call(request[REQUEST_ID], key.code, ENDPOINT, model, kind="asr-stream")
    client = AsrClient(request, ws)

    async def attempt(route: Route) -> web.StreamResponse:
        return await _session(request, call, client, route)

    try:
        return await metered(request, key, call, lambda: dispatch(request, call, key, attempt))
    except GatewayError as exc:
        if not ws.prepared:
            raise
        await client.end(Failed(_nls_status(exc.status), exc.message), WSCloseCode.INTERNAL_ERROR)
        return ws


async def _session(
    request: web.Request, call: Call, client: AsrClient, route: Route
) -> web.StreamResponse:
    adapter = asr_stream_adapter(route.channel.protocol)
    target = adapter.asr_target(route.channel, request.headers)
    socket = await request.app[UPSTREAM].connect(target, route.stream_timeout)
    try:
        last = await _run(call, client, socket, adapter.asr_session, route)
    finally:
        await socket.close()  # before the client's: it is still there, waiting for `last`
    if last is not None:
        await client.end(*last)
    return client.ws


async def _run(
    call: Call,
    client: AsrClient,
    socket: MessageSocket,
    new_session: Callable[[Channel, AsrParams], AsrSession],
    route: Route,
) -> tuple[AsrEvent | None, int] | None:
    """Run the session; returns the last event for the client and the close code."""
    await client.upgrade()
    try:
        start = await client.first_command(START_TIMEOUT_S)
    except ClientFailed as exc:
        call.fail(400, "invalid_message")
        return exc.event, WSCloseCode.POLICY_VIOLATION
    if start is None:
        call.fail(CLIENT_CLOSED, "client_closed")
        return None
    session = new_session(route.channel, start.params)
    started = await _start(socket, session)
    call.mark_first_byte()
    await client.send(started)
    relay = AsrRelay(client, socket, session, Limits())
    try:
        ending = await relay.run()
    finally:
        call.units = Measure(
            audio_seconds=seconds(relay.audio_bytes / bytes_per_second(start.params))
        )
    _finish(call, ending)
    return ending.event, ending.close_code


async def _start(socket: MessageSocket, session: AsrSession) -> Started:
    """Start the upstream session; any failure here lets `dispatch` try the next channel."""
    for outgoing in session.start():
        await socket.send(outgoing)
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            while True:
                message = await socket.receive()
                if message is None:
                    raise UpstreamUnavailable("The upstream closed before the session started.")
                for event in session.receive(message):
                    if isinstance(event, Started):
                        return event
                    if isinstance(event, Failed):
                        raise _start_failure(event)
    except TimeoutError:
        raise UpstreamTimeout("The upstream did not start the session in time.") from None


def _start_failure(event: Failed) -> UpstreamBadRequest | UpstreamServerError:
    message = f"The upstream refused the session: {event.message}"
    if CLIENT_ERROR <= event.status < SERVER_ERROR:
        return UpstreamBadRequest(message)
    return UpstreamServerError(message)


def _finish(call: Call, ending: Ending) -> None:
    if ending.status == 200:
        call.status = 200
        return
    call.fail(ending.status, ending.code)
    if ending.status >= 502 and ending.code != "client_closed":
        message = ending.event.message if isinstance(ending.event, Failed) else ending.code
        call.upstream_error = UpstreamServerError(message)


def _nls_status(status: int) -> int:
    if status == 429:
        return 40000005
    if 400 <= status < 500:
        return INVALID_PARAMETER
    return UPSTREAM_ERROR if status in (502, 504) else SERVER_ERROR
