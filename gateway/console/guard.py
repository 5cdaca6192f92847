"""Who may call /console: a bearer key whose role allows the path, or an admin session.

A request with an `Authorization` header takes the API's bearer path unchanged (role
`console` or `all`; any other role gets 403). Without one, the session decides, and a
state-changing request must then pass the CSRF check.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from gateway.auth import authenticate
from gateway.errors import AuthenticationFailed
from gateway.login import csrf, sessions


@dataclass(frozen=True, slots=True)
class Actor:
    name: str  # what the audit log records: a key's code or a user's email
    role: str  # the key role whose rank bounds the roles it may grant
    key_code: str | None  # the key acting, directly or through a key-login session


async def console_actor(request: web.Request) -> Actor:
    if "Authorization" in request.headers:
        key = await authenticate(request)
        return Actor(key.code, key.role, key.code)
    found = await sessions.current(request)
    if found is None:
        raise AuthenticationFailed(
            "Log in to the console, or send a console key as 'Authorization: Bearer sk-…'.",
            code="login_required",
        )
    session, principal = found
    csrf.check(request, session)
    key_code = principal.code if principal.kind == "key" else None
    return Actor(principal.name, principal.role, key_code)


async def page_guard(request: web.Request) -> None:
    """For the console's own files: public, but a bearer key must still be allowed /console."""
    if "Authorization" in request.headers:
        await authenticate(request)
