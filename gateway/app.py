"""The application factory: a list of setup() calls, one resource per cleanup_ctx."""

from __future__ import annotations

from aiohttp import web

from gateway import auth, catalog, database, files, limits, redisconn, router, upstream, usage
from gateway.console.plugin import setup as setup_console
from gateway.handlers import (
    apikeys,
    asr_flash,
    asr_stream,
    chat,
    embeddings,
    health,
    images,
    models,
    realtime,
    speech,
    transcriptions,
)
from gateway.handlers import files as stored_files
from gateway.handlers.messages import messages as anthropic_messages
from gateway.keys import ROUTES, SCOPED_MIDDLEWARES, SETTINGS
from gateway.login.plugin import setup as setup_login
from gateway.middleware import RequestIds, Wrapper
from gateway.observability import setup as setup_observability
from gateway.routes import add_route, install
from gateway.settings import Settings


def create_app(settings: Settings) -> web.Application:
    # No aiohttp middleware: each route's handler is wrapped once instead (gateway/routes.py).
    app = web.Application(client_max_size=settings.server.max_body_bytes)
    app[SETTINGS] = settings
    app[SCOPED_MIDDLEWARES] = []
    app[ROUTES] = []
    database.setup(app)
    upstream.setup(app)
    catalog.setup(app)
    auth.setup(app)
    redisconn.setup(app)
    router.setup(app)
    usage.setup(app)
    limits.setup(app)
    files.setup(app)
    setup_observability(app)  # after the router and usage: metrics read them
    setup_login(app)  # after Redis; its session middleware runs inside observe
    setup_console(app)  # after the catalog, the key cache and Redis
    _routes(app)
    install(app, Wrapper(RequestIds(), app[SCOPED_MIDDLEWARES]))  # after every setup
    return app


def _routes(app: web.Application) -> None:
    add_route(app, "POST", "/v1/chat/completions", chat.chat_completions)
    add_route(app, "POST", "/v1/messages", anthropic_messages)
    add_route(app, "POST", "/v1/embeddings", embeddings.embeddings)
    add_route(app, "POST", "/v1/audio/speech", speech.speech)
    add_route(app, "POST", "/v1/audio/transcriptions", transcriptions.transcriptions)
    add_route(app, "POST", "/v1/audio/asr/flash", asr_flash.asr_flash)
    add_route(app, "GET", "/v1/audio/asr/stream", asr_stream.asr_stream)
    add_route(app, "GET", "/v1/realtime", realtime.realtime)
    add_route(app, "POST", "/v1/images/generations", images.generations)
    add_route(app, "POST", "/v1/images/edits", images.edits)
    add_route(app, "GET", "/files/{id}", stored_files.get_file)  # HEAD too
    add_route(app, "GET", "/v1/models", models.list_models)
    add_route(app, "GET", "/v1/models/{model}", models.get_model)
    add_route(app, "GET", "/v1/apikey/whoami", apikeys.whoami)
    add_route(app, "GET", "/v1/apikey/children", apikeys.list_children)
    add_route(app, "POST", "/v1/apikey/children", apikeys.create_child)
    add_route(app, "GET", "/healthz", health.healthz)
    add_route(app, "GET", "/readyz", health.readyz)
