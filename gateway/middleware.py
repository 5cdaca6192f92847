"""The one error middleware: request id, and every failure rendered OpenAI-style."""

from __future__ import annotations

import logging
import os

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import GatewayError, error_body
from gateway.keys import REQUEST_ID

log = logging.getLogger(__name__)

_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
}


def new_request_id() -> str:
    return "req-" + os.urandom(12).hex()


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


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = new_request_id()
    request[REQUEST_ID] = request_id
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
        body = error_body(
            "The gateway failed to handle the request.", "api_error", "internal_error"
        )
        return _json_error(500, body, request_id)
    if not response.prepared:
        response.headers["X-Bella-Request-Id"] = request_id
    return response
