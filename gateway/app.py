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
from gateway.keys import SCOPED_MIDDLEWARES, SETTINGS
from gateway.login.plugin import setup as setup_login
from gateway.middleware import RequestIds, Scoped, gateway_middleware
from gateway.observability import setup as setup_observability
from gateway.settings import Settings


def create_app(settings: Settings) -> web.Application:
    scoped: Scoped = []
    app = web.Application(
        client_max_size=settings.server.max_body_bytes,
        middlewares=[gateway_middleware(RequestIds(), scoped)],
    )
    app[SETTINGS] = settings
    app[SCOPED_MIDDLEWARES] = scoped
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
    return app


def _routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", chat.chat_completions)
    app.router.add_post("/v1/messages", anthropic_messages)
    app.router.add_post("/v1/embeddings", embeddings.embeddings)
    app.router.add_post("/v1/audio/speech", speech.speech)
    app.router.add_post("/v1/audio/transcriptions", transcriptions.transcriptions)
    app.router.add_post("/v1/audio/asr/flash", asr_flash.asr_flash)
    app.router.add_get("/v1/audio/asr/stream", asr_stream.asr_stream)
    app.router.add_get("/v1/realtime", realtime.realtime)
    app.router.add_post("/v1/images/generations", images.generations)
    app.router.add_post("/v1/images/edits", images.edits)
    app.router.add_get("/files/{id}", stored_files.get_file)  # HEAD too
    app.router.add_get("/v1/models", models.list_models)
    app.router.add_get("/v1/models/{model}", models.get_model)
    app.router.add_get("/v1/apikey/whoami", apikeys.whoami)
    app.router.add_get("/v1/apikey/children", apikeys.list_children)
    app.router.add_post("/v1/apikey/children", apikeys.create_child)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
