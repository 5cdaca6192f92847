"""`setup(app)`: the console API, its audit log, cache invalidation and the web page."""

from __future__ import annotations

from aiohttp import web

from gateway.console import (
    apikeys,
    audit,
    categories,
    channels,
    endpoints,
    invalidation,
    meta,
    models,
    page,
    usage,
    users,
)


def setup(app: web.Application) -> None:
    """Call after the catalog, the key cache and Redis are set up."""
    invalidation.setup(app)
    for module in (
        categories,
        endpoints,
        models,
        channels,
        apikeys,
        usage,
        audit,
        users,
        meta,
        page,
    ):
        module.add_routes(app)
