"""The application factory: a list of setup() calls, one resource per cleanup_ctx."""

from __future__ import annotations

from aiohttp import web

from gateway import auth, catalog, database, router, upstream, usage
from gateway.handlers import chat, health, models
from gateway.keys import SETTINGS
from gateway.middleware import error_middleware
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
    router.setup(app)
    usage.setup(app)
    _routes(app)
    return app


def _routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", chat.chat_completions)
    app.router.add_get("/v1/models", models.list_models)
    app.router.add_get("/v1/models/{model}", models.get_model)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
