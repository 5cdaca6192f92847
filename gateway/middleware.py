"""What runs around every handler: request id, the watched request, failures rendered.

The app has no aiohttp middleware (gateway/routes.py): `Wrapper` wraps each route's handler
once, when the routes are installed, and one coroutine frame then does it all, in order:

1. numbers the request (`request[REQUEST_ID]`);
2. for an API path, starts the request's `Timing` (gateway/observe.py) and, once the handler
   is done, counts it and writes its log line, whatever way it ended;
3. runs the scoped middlewares whose path prefix matches the route's (the console's
   sessions), chosen once per route, so other paths pay nothing for them;
4. renders failures OpenAI-style (DESIGN §8) and stamps the response's headers.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from functools import partial

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway import observe
from gateway.errors import GatewayError, UpstreamFailed, error_body
from gateway.keys import METRICS, REQUEST_ID
from gateway.metering import CLIENT_CLOSED
from gateway.observe import REQUEST_ID_HEADER
from gateway.shutdown import SHUTDOWN_CODE, SHUTDOWN_STATUS, end_interrupted
from gateway.timing import Timing

log = logging.getLogger(__name__)

_INTERNAL = error_body("The gateway failed to handle the request.", "api_error", "internal_error")
_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
}

# (path prefixes, middleware): run only around the handlers of paths with such a prefix.
Scoped = list[tuple[tuple[str, ...], Middleware]]


class RequestIds:
    """Unique request ids without a syscall each: a random 64-bit prefix per process (so
    processes and hosts do not collide) and a counter."""

    __slots__ = ("_count", "_prefix")

    def __init__(self) -> None:
        self._prefix = "req-" + os.urandom(8).hex()
        self._count = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._count):08x}"


class Wrapper:
    """Wraps route handlers: `wrapper(handler, path)` is the handler the router calls."""

    def __init__(self, ids: RequestIds, scoped: Scoped) -> None:
        self._ids = ids
        self._scoped = scoped

    def __call__(self, handler: Handler, path: str) -> Handler:
        for prefixes, middleware in self._scoped:
            if path.startswith(prefixes):
                handler = partial(middleware, handler=handler)
                break
        if path in observe.OPS_PATHS:
            return partial(_unwatched, self._ids, handler)
        return partial(_watched, self._ids, handler, path)


async def _watched(
    ids: RequestIds, handler: Handler, endpoint: str, request: web.Request
) -> web.StreamResponse:
    """An API path: the request observed (`endpoint` is its route's path, a metrics label)."""
    request_id = request[REQUEST_ID] = ids.next()
    timing = observe.start(request, request_id, endpoint)
    try:
        response = await handler(request)  # awaited here: no frame more per resumption
        timing.ending(response.status, "")
    except BaseException as exc:  # noqa: BLE001 -- re-raised unless it becomes a response
        response = await _failed(request, timing, exc, request_id)
    finally:
        observe.finish(request, timing)
    if not response.prepared:
        observe.stamp(response.headers, timing)
    return response


async def _unwatched(ids: RequestIds, handler: Handler, request: web.Request) -> web.StreamResponse:
    """An ops path (/metrics, /healthz, /readyz): failures rendered, nothing counted."""
    request_id = request[REQUEST_ID] = ids.next()
    try:
        response = await handler(request)
    except Exception as exc:  # noqa: BLE001 -- rendered; logged when unexpected
        return _rendered(exc, request, request_id)
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


async def _failed(
    request: web.Request, timing: Timing, exc: BaseException, request_id: str
) -> web.StreamResponse:
    """What the client gets for `exc`, with `timing` told how the request ended."""
    if isinstance(exc, asyncio.CancelledError):
        if not timing.interrupted:
            timing.ending(CLIENT_CLOSED, "client_closed")
            raise exc
        timing.ending(SHUTDOWN_STATUS, SHUTDOWN_CODE)
        try:
            return await end_interrupted(request, timing)
        except GatewayError as error:
            return _rendered(error, request, request_id)
    if isinstance(exc, GatewayError):
        timing.ending(exc.status, exc.code)
        if exc.status == 429 and not isinstance(exc, UpstreamFailed):
            request.app[METRICS].rejected(exc.code)
    elif isinstance(exc, web.HTTPException):
        timing.ending(exc.status, "" if exc.status < 400 else "http_error")
        if exc.status < 400:  # a redirect: aiohttp sends it
            observe.stamp(exc.headers, timing)
            raise exc
    elif not isinstance(exc, Exception):
        raise exc
    return _rendered(exc, request, request_id)


def _rendered(exc: Exception, request: web.Request, request_id: str) -> web.Response:
    if isinstance(exc, GatewayError):
        return _json_error(exc.status, exc.body(), request_id, exc.retry_after)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return _from_http(exc, request_id)
    log.exception("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return _json_error(500, _INTERNAL, request_id)


def _json_error(
    status: int, body: bytes, request_id: str, retry_after: float | None = None
) -> web.Response:
    headers = {REQUEST_ID_HEADER: request_id}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _from_http(exc: web.HTTPException, request_id: str) -> web.Response:
    type_, code = _HTTP_ERRORS.get(exc.status, ("invalid_request_error", "http_error"))
    message = exc.reason
    if exc.status == 413:
        message = "The request body is larger than this gateway accepts."
    response = _json_error(exc.status, error_body(message, type_, code), request_id)
    if "Allow" in exc.headers:  # a 405 says what the path does take
        response.headers["Allow"] = exc.headers["Allow"]
    return response
