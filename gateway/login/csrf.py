"""CSRF defence for cookie-authenticated requests: a per-session token and the Origin.

Every state-changing request that a session authenticates must carry the session's token in
`X-CSRF-Token` (the console page reads it from GET /login/session; another site cannot read
it, nor set the header on a cross-site form). When the browser sends `Origin`, it must be
this gateway's too. Bearer requests need neither: a browser never adds that header itself.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import Session

from gateway.errors import PermissionDenied
from gateway.keys import SETTINGS

HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check(request: web.Request, session: Session) -> None:
    """Refuse a state-changing request without the session's token or from another origin."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get("csrf")
    given = request.headers.get(HEADER, "")
    if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise PermissionDenied(
            f"Missing or wrong CSRF token: send the {HEADER} header from GET /login/session.",
            code="csrf_failed",
        )
    check_origin(request)


def check_origin(request: web.Request) -> None:
    """When the browser names the page's origin, it must be this gateway's."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if urlsplit(origin).netloc.lower() != own_host(request):
        raise PermissionDenied("Cross-site request refused.", code="csrf_failed")


def own_host(request: web.Request) -> str:
    public = request.app[SETTINGS].server.public_url
    return (urlsplit(public).netloc if public else request.host).lower()
