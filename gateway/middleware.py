"""The one error middleware: request id, and every failure rendered OpenAI-style."""

from __future__ import annotations

import itertools
import logging
import os

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.errors import GatewayError, error_body
from gateway.keys import REQUEST_ID

log = logging.getLogger(__name__)

_INTERNAL = error_body("The gateway failed to handle the request.", "api_error", "internal_error")
_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
}


class RequestIds:
    """Unique request ids without a syscall each: a random 64-bit prefix per process (so
    processes and hosts do not collide) and a counter."""

    __slots__ = ("_count", "_prefix")

    def __init__(self) -> None:
        self._prefix = "req-" + os.urandom(8).hex()
        self._count = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._count):08x}"


def _json_error(
    status: int, body: bytes, request_id: str, retry_after: float | None = None
) -> web.Response:
    headers = {"X-Bella-Request-Id": request_id}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _from_http(exc: web.HTTPException, request_id: str) -> web.Response:
    type_, code = _HTTP_ERRORS.get(exc.status, ("invalid_request_error", "http_error"))
    message = exc.reason
    if exc.status == 413:
        message = "The request body is larger than this gateway accepts."
    return _json_error(exc.status, error_body(message, type_, code), request_id)


def error_middleware(ids: RequestIds) -> Middleware:
    """The outermost middleware: numbers requests with `ids`, renders every failure."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = request[REQUEST_ID] = ids.next()
        try:
            response = await handler(request)
        except GatewayError as exc:
            return _json_error(exc.status, exc.body(), request_id, exc.retry_after)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _from_http(exc, request_id)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.path)
            return _json_error(500, _INTERNAL, request_id)
        if not response.prepared:
            response.headers["X-Bella-Request-Id"] = request_id
        return response

    return errors
