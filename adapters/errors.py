"""The upstream error tree: every adapter maps its vendor's failures into these.

The gateway decides failover and cooldown from the class alone:
retryable errors move on to the next channel, client errors do not.
"""

from __future__ import annotations


class UpstreamError(Exception):
    """An upstream answered with an error or could not be reached."""

    status: int = 502
    code: str = "upstream_error"
    retryable: bool = True

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class UpstreamUnavailable(UpstreamError):
    """Connection refused, reset or DNS failure: nothing reached the upstream."""

    status = 502
    code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamServerError(UpstreamError):
    """The upstream answered 5xx."""

    status = 502
    code = "upstream_server_error"


class UpstreamRateLimited(UpstreamError):
    """The upstream answered 429; `retry_after` is its Retry-After in seconds, if any."""

    status = 429
    code = "upstream_rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamBadRequest(UpstreamError):
    """The upstream refused the request itself (4xx other than 429): the client's fault."""

    status = 400
    code = "upstream_bad_request"
    retryable = False


class UpstreamProtocolError(UpstreamError):
    """The upstream answered something that is not its documented wire format."""

    status = 502
    code = "upstream_protocol_error"
