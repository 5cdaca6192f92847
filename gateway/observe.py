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
from gateway.metrics import Metrics
from gateway.shutdown import SHUTDOWN_CODE, SHUTDOWN_STATUS, end_interrupted
from gateway.timing import Outcome, Spans, Timing

OPS_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
TRACE_HEADER = "X-Bella-Trace-Id"
CHANNEL_HEADER = "X-Bella-Channel"
SSE_TYPE = "text/event-stream"


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPS_PATHS:
        return await handler(request)
    app = request.app
    timing = _start(request)
    drain = app[DRAIN]
    drain.enter(timing)
    metrics = app[METRICS]
    metrics.in_flight(1)
    try:  # the handler is awaited here, not in a helper: one coroutine less per resumption
        response = await handler(request)
        timing.ending(response.status, "")
        return response
    except asyncio.CancelledError:
        if not timing.interrupted:
            timing.ending(CLIENT_CLOSED, "client_closed")
            raise
        timing.ending(SHUTDOWN_STATUS, SHUTDOWN_CODE)
        return await end_interrupted(request, timing)
    except GatewayError as exc:
        _failed(metrics, timing, exc)
        raise
    except web.HTTPException as exc:
        timing.ending(exc.status, "" if exc.status < 400 else "http_error")
        raise
    finally:
        spans = timing.finish()
        drain.leave(timing)
        metrics.in_flight(-1)
        _finish(request, app, metrics, timing, spans)


def _start(request: web.Request) -> Timing:
    timing = Timing(request[REQUEST_ID], _endpoint(request), asyncio.current_task())
    timing.trace_id = clean_trace_id(request.headers.get(TRACE_HEADER))
    request[TIMING] = timing
    return timing


def _failed(metrics: Metrics, timing: Timing, exc: GatewayError) -> None:
    timing.ending(exc.status, exc.code)
    if exc.status == 429 and not isinstance(exc, UpstreamFailed):
        metrics.rejected(exc.code)


def _finish(
    request: web.Request, app: web.Application, metrics: Metrics, timing: Timing, spans: Spans
) -> None:
    if timing.stream:
        metrics.stream_closed(timing.stream, timing.endpoint)
    outcome = _outcome(timing, spans)
    metrics.request_done(outcome)
    request_log = app[REQUEST_LOG]
    if request_log.enabled:
        record = timing.record
        if record is not None:
            key = record.apikey_code
        else:
            apikey = request.get(APIKEY)
            key = apikey.code if apikey else ""
        request_log.write(
            outcome,
            record,
            request_id=timing.request_id,
            trace_id=timing.trace_id,
            key=key,
            method=request.method,
        )


def _outcome(timing: Timing, spans: Spans) -> Outcome:
    record = timing.record
    if timing.interrupted:
        status, error = SHUTDOWN_STATUS, SHUTDOWN_CODE
    elif record is not None:
        status, error = record.status, record.error_code
    else:
        status, error = timing.status, timing.error
    return Outcome(
        timing.endpoint,
        record.model if record else "",
        record.channel_code if record else "",
        status,
        error,
        spans,
        timing.failovers,
        timing.queued_marked,
        timing.stream,
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
    spans = timing.final or timing.spans()  # final: the request ended before its response
    headers["Server-Timing"] = spans.server_timing()
    if CHANNEL_HEADER not in headers:
        record = timing.record
        headers[CHANNEL_HEADER] = record.channel_code if record else ""
    if timing.trace_id:
        headers[TRACE_HEADER] = timing.trace_id


def _opened(request: web.Request, timing: Timing, response: web.StreamResponse) -> None:
    timing.response = response
    if isinstance(response, web.WebSocketResponse):
        timing.stream = "websocket"
    elif response.content_type == SSE_TYPE:
        timing.stream = "sse"
    else:
        return
    request.app[METRICS].stream_opened(timing.stream, timing.endpoint)


def setup(app: web.Application) -> None:
    """Observe every request; call after metrics, logs and shutdown are set up."""
    app.middlewares.append(observe_middleware)
    app.on_response_prepare.append(add_headers)
