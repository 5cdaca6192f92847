"""`setup(app)`: console login as one resource, one middleware (on its paths) and its routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.keys import LOGIN, REDIS, SCOPED_MIDDLEWARES, SETTINGS
from gateway.login.routes import add_routes
from gateway.login.sessions import SESSION_PATHS, sessions_middleware
from gateway.login.state import build_login


async def _login_ctx(app: web.Application) -> AsyncIterator[None]:
    app[LOGIN] = build_login(app[SETTINGS], app[REDIS])
    yield


def setup(app: web.Application) -> None:
    """Call after `redisconn.setup`: sessions and the throttle use the shared Redis client."""
    app.cleanup_ctx.append(_login_ctx)
    app[SCOPED_MIDDLEWARES].append((SESSION_PATHS, sessions_middleware))
    add_routes(app)
