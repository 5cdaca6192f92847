"""Watching every API request: timing, response headers, metrics, the request log, the drain.

The handler wrapper (gateway/middleware.py) calls `start` before an API handler and
`finish` once it is done — a stream is done when its handler returns — whatever way it ended:
the request's `Timing` is registered with the drain, counted, and its log line written, once.
The ops routes (/metrics, /healthz, /readyz) are not watched.

`stamp` sets the headers every API response carries: `X-Bella-Request-Id`, `Server-Timing`
(gateway, queue, upstream; for a stream, the time up to its first byte), `X-Bella-Channel`
(the channel that served it, empty when none was chosen) and the echoed `X-Bella-Trace-Id`.
The wrapper stamps the responses handlers return; a handler that streams its response
sends its head through `prepare`, which stamps it and counts the SSE or WebSocket stream.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TypeVar

from aiohttp import web

from gateway.keys import APIKEY, DRAIN, METRICS, REQUEST_LOG, TIMING
from gateway.logs import clean_trace_id
from gateway.shutdown import SHUTDOWN_CODE, SHUTDOWN_STATUS
from gateway.timing import Outcome, Spans, Timing

ResponseT = TypeVar("ResponseT", bound=web.StreamResponse)

OPS_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
TRACE_HEADER = "X-Bella-Trace-Id"
CHANNEL_HEADER = "X-Bella-Channel"
SSE_TYPE = "text/event-stream"
REQUEST_ID_HEADER = "X-Bella-Request-Id"


def start(request: web.Request, request_id: str, endpoint: str) -> Timing:
    """Start watching an API request: its `Timing`, in the drain (which the in-flight gauge
    reads)."""
    timing = Timing(request_id, endpoint, request.task)
    timing.trace_id = clean_trace_id(request.headers.get(TRACE_HEADER))
    request[TIMING] = timing
    request.app[DRAIN].enter(timing)
    return timing


def finish(request: web.Request, timing: Timing) -> None:
    """The request ended (`timing.ending` said how): count it and write its log line."""
    app = request.app
    spans = timing.finish()
    app[DRAIN].leave(timing)
    metrics = app[METRICS]
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


def stamp(headers: MutableMapping[str, str], timing: Timing) -> None:
    """The headers every API response carries, set just before it is sent."""
    headers[REQUEST_ID_HEADER] = timing.request_id
    headers["Server-Timing"] = (timing.final or timing.spans()).server_timing()
    if CHANNEL_HEADER not in headers:
        record = timing.record
        headers[CHANNEL_HEADER] = record.channel_code if record else ""
    if timing.trace_id:
        headers[TRACE_HEADER] = timing.trace_id


async def prepare(request: web.Request, response: ResponseT) -> ResponseT:
    """Prepare (send the head of) a response a handler streams itself: an SSE stream, a
    WebSocket, a streamed body. Its headers are stamped now, and the stream is counted."""
    timing = request.get(TIMING)
    if timing is not None and not response.prepared:
        _opened(request, timing, response)
        stamp(response.headers, timing)
    await response.prepare(request)
    return response


def _opened(request: web.Request, timing: Timing, response: web.StreamResponse) -> None:
    timing.response = response
    if isinstance(response, web.WebSocketResponse):
        timing.stream = "websocket"
    elif response.headers.get("Content-Type", "").startswith(SSE_TYPE):  # not content_type:
        timing.stream = "sse"  # that parses the header (≈ 1.6 µs)
    else:
        return
    request.app[METRICS].stream_opened(timing.stream, timing.endpoint)
