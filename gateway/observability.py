"""Metrics, the request log and the shutdown drain, in their order.

Call after the router and the usage writer are set up: the metrics read the one and listen
to the other, and the drain must run (`on_shutdown`) before the usage writer's final flush.
"""

from __future__ import annotations

from aiohttp import web

from gateway import logs, metrics, shutdown
from gateway.routes import add_route


def setup(app: web.Application) -> None:
    metrics.setup(app)
    logs.setup(app)
    shutdown.setup(app)
    add_route(app, "GET", "/metrics", metrics.scrape)
