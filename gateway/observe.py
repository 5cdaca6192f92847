"""Watching every API request: timing, response headers, metrics, the request log, the drain.

`observe_middleware` sits inside `error_middleware` (so it sees a `GatewayError` before it is
rendered) and around every API handler; the ops routes (/metrics, /healthz, /readyz) pass
straight through. It starts the request's `Timing`, registers it with the drain, and when the
handler is done — a stream is done when its handler returns — counts the request and writes
its log line, once, whatever way it ended.

`add_headers` (an `on_response_prepare` hook) stamps every response as it is prepared with
`Server-Timing` (gateway, queue, upstream; for a stream, the time up to its first byte),
`X-Bella-Channel` (the channel that served it, empty when none was chosen) and the echoed
`X-Bella-Trace-Id`; it also counts the SSE and WebSocket responses that open.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import GatewayError, UpstreamFailed
from gateway.keys import APIKEY, DRAIN, METRICS, REQUEST_ID, REQUEST_LOG, TIMING
from gateway.logs import clean_trace_id
from gateway.metering import CLIENT_CLOSED
from gateway.shutdown import SHUTDOWN_CODE, SHUTDOWN_STATUS, end_interrupted
from gateway.timing import Outcome, Timing

OPS_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
TRACE_HEADER = "X-Bella-Trace-Id"
CHANNEL_HEADER = "X-Bella-Channel"
SSE_TYPE = "text/event-stream"


class _Ending:
    """The status a request ended with, as the middleware learns it."""

    __slots__ = ("error", "status")

    def __init__(self) -> None:
        self.status = 500
        self.error = "internal_error"

    def set(self, status: int, error: str) -> None:
        self.status, self.error = status, error


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPS_PATHS:
        return await handler(request)
    app = request.app
    timing = Timing(request[REQUEST_ID], _endpoint(request), asyncio.current_task())
    request[TIMING] = timing
    app[DRAIN].enter(timing)
    app[METRICS].in_flight(1)
    ending = _Ending()
    try:
        return await _handle(request, handler, timing, ending)
    finally:
        timing.end()
        app[DRAIN].leave(timing)
        _finish(request, timing, ending)


async def _handle(
    request: web.Request, handler: Handler, timing: Timing, ending: _Ending
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except GatewayError as exc:
        ending.set(exc.status, exc.code)
        if exc.status == 429 and not isinstance(exc, UpstreamFailed):
            request.app[METRICS].rejected(exc.code)
        raise
    except web.HTTPException as exc:
        ending.set(exc.status, "" if exc.status < 400 else "http_error")
        raise
    except asyncio.CancelledError:
        if not timing.interrupted:
            ending.set(CLIENT_CLOSED, "client_closed")
            raise
        ending.set(SHUTDOWN_STATUS, SHUTDOWN_CODE)
        return await end_interrupted(request, timing)
    ending.set(response.status, "")
    return response


def _finish(request: web.Request, timing: Timing, ending: _Ending) -> None:
    app = request.app
    metrics = app[METRICS]
    metrics.in_flight(-1)
    if timing.stream:
        metrics.stream(timing.stream, timing.endpoint).dec()
    outcome = _outcome(timing, ending)
    metrics.request_done(outcome)
    request_log = app[REQUEST_LOG]
    if request_log.enabled:
        key = request.get(APIKEY)
        request_log.write(
            outcome,
            timing.record,
            request_id=timing.request_id,
            trace_id=clean_trace_id(request.headers.get(TRACE_HEADER)),
            key=timing.record.apikey_code if timing.record else key.code if key else "",
            method=request.method,
        )


def _outcome(timing: Timing, ending: _Ending) -> Outcome:
    record = timing.record
    status, error = ending.status, ending.error
    if timing.interrupted:
        status, error = SHUTDOWN_STATUS, SHUTDOWN_CODE
    elif record is not None:
        status, error = record.status, record.error_code
    return Outcome(
        endpoint=timing.endpoint,
        model=record.model if record else "",
        channel=record.channel_code if record else "",
        status=status,
        error=error,
        spans=timing.spans(),
        failovers=timing.failovers,
        queued=timing.queued_marked,
        stream=timing.stream,
    )


def _endpoint(request: web.Request) -> str:
    """The route pattern (bounded, fit for a label), "unmatched" for unknown paths."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    timing = request.get(TIMING)
    if timing is None:
        return
    headers = response.headers
    if timing.ended is None:  # prepared by the handler itself: a stream or a WebSocket
        _opened(request, timing, response)
    headers["Server-Timing"] = timing.spans().server_timing()
    if CHANNEL_HEADER not in headers:
        record = timing.record
        headers[CHANNEL_HEADER] = record.channel_code if record else ""
    trace_id = clean_trace_id(request.headers.get(TRACE_HEADER))
    if trace_id:
        headers[TRACE_HEADER] = trace_id


def _opened(request: web.Request, timing: Timing, response: web.StreamResponse) -> None:
    timing.response = response
    if isinstance(response, web.WebSocketResponse):
        timing.stream = "websocket"
    elif response.content_type == SSE_TYPE:
        timing.stream = "sse"
    else:
        return
    request.app[METRICS].stream(timing.stream, timing.endpoint).inc()


def setup(app: web.Application) -> None:
    """Observe every request; call after metrics, logs and shutdown are set up."""
    app.middlewares.append(observe_middleware)
    app.on_response_prepare.append(add_headers)
