"""Errors the gateway answers with, rendered OpenAI-style by one middleware.

`{"error": {"message", "type", "code", "param"}}` with the HTTP status of DESIGN §8.
"""

from __future__ import annotations

import orjson

from adapters.errors import UpstreamError, UpstreamRateLimited


class GatewayError(Exception):
    status: int = 500
    type: str = "api_error"
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.retry_after = retry_after

    def body(self) -> bytes:
        return error_body(self.message, self.type, self.code, self.param)


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class RequestTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class QuotaExceeded(GatewayError):
    status = 429
    type = "insufficient_quota"
    code = "insufficient_quota"


class ServiceUnavailable(GatewayError):
    status = 503
    type = "api_error"
    code = "service_unavailable"


class UpstreamFailed(GatewayError):
    """Every attempt failed upstream; carries the last upstream error's status."""

    type = "upstream_error"

    def __init__(self, error: UpstreamError) -> None:
        retry_after = error.retry_after if isinstance(error, UpstreamRateLimited) else None
        super().__init__(error.message, code=error.code, retry_after=retry_after)
        self.status = error.status
        if not error.retryable:
            self.type = "invalid_request_error"
        elif error.status == 429:
            self.type = "rate_limit_error"


def error_body(message: str, type_: str, code: str, param: str | None = None) -> bytes:
    return orjson.dumps(
        {"error": {"message": message, "type": type_, "code": code, "param": param}}
    )


def sse_error(error: GatewayError | UpstreamError) -> bytes:
    """The event that ends a stream which failed after its first byte."""
    type_ = error.type if isinstance(error, GatewayError) else "upstream_error"
    body = error_body(error.message, type_, error.code)
    return b"data: " + body + b"\n\n"
