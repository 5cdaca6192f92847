"""The application factory: a list of setup() calls, one resource per cleanup_ctx."""

from __future__ import annotations

from aiohttp import web

from gateway import auth, catalog, database, limits, redisconn, router, upstream, usage
from gateway.console import apikeys as console_apikeys
from gateway.console import usage as console_usage
from gateway.handlers import apikeys, chat, health, models
from gateway.keys import SETTINGS
from gateway.middleware import error_middleware
from gateway.observability import setup as setup_observability
from gateway.settings import Settings


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.server.max_body_bytes,
        middlewares=[error_middleware],
    )
    app[SETTINGS] = settings
    database.setup(app)
    upstream.setup(app)
    catalog.setup(app)
    auth.setup(app)
    redisconn.setup(app)
    router.setup(app)
    usage.setup(app)
    limits.setup(app)
    setup_observability(app)  # after the router and usage: metrics read them
    _routes(app)
    return app


def _routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", chat.chat_completions)
    app.router.add_get("/v1/models", models.list_models)
    app.router.add_get("/v1/models/{model}", models.get_model)
    app.router.add_get("/v1/apikey/whoami", apikeys.whoami)
    app.router.add_get("/v1/apikey/children", apikeys.list_children)
    app.router.add_post("/v1/apikey/children", apikeys.create_child)
    console_apikeys.add_routes(app)
    console_usage.add_routes(app)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
