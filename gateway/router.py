"""The router seam: which channels may serve a request, in which order, and their slots.

Today every active channel of the model may serve, in catalog order; weighted priority
routing, slots and the queue plug in behind these same three calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from aiohttp import web

from adapters.errors import UpstreamError
from gateway.catalog import Catalog, Route
from gateway.errors import NotFound
from gateway.keys import CATALOG, ROUTER
from gateway.store.records import ApiKey, Model


class Router:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def plan(self, model_field: str, key: ApiKey) -> Iterator[tuple[Model, Route]]:
        """Candidates in the order to try them; a comma list of models is a fallback order."""
        names = model_field.split(",") if "," in model_field else (model_field,)
        found = False
        for name in names:
            model = self._catalog.resolve(name.strip())
            if model is None or not self._catalog.visible(model, key):
                continue
            found = True
            for route in self._catalog.candidates(model, key):
                yield model, route
        if not found:
            raise NotFound(
                f"The model '{model_field}' does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )

    @asynccontextmanager
    async def slot(self, route: Route, request_id: str) -> AsyncIterator[None]:
        yield

    def report(self, route: Route, error: UpstreamError | None) -> None:
        """An attempt's outcome, for channel health."""


async def _router_ctx(app: web.Application) -> AsyncIterator[None]:
    app[ROUTER] = Router(app[CATALOG])
    yield


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_router_ctx)
