"""/console/models: public model names, their endpoints, features, aliases and visibility.

Fields and validation are the config catalog's (`gateway.declare._model`); on top, the
endpoints and the `linked_to` target must exist.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from gateway.console.crud import CrudRoutes
from gateway.declare import _model
from gateway.errors import InvalidRequest
from gateway.store.base import Store
from gateway.store.records import Model

FIELDS = frozenset(
    {"name", "endpoints", "features", "properties", "linked_to", "visibility", "owner", "status"}
)


def model_view(row: Model) -> dict[str, Any]:
    view = asdict(row)
    view["endpoints"] = list(row.endpoints)
    return view


class Models:
    entity = "model"
    key = "name"
    fields = FIELDS

    async def rows(self, store: Store) -> list[Model]:
        return await store.list_models()

    async def get(self, store: Store, ident: str) -> Model | None:
        return await store.get_model(ident)

    def entry(self, row: Model) -> dict[str, Any]:
        return model_view(row)

    def build(self, entry: dict[str, Any]) -> Model:
        return _model(entry)

    async def check(self, store: Store, row: Model) -> None:
        known = {e.path for e in await store.list_endpoints()}
        unknown = [e for e in row.endpoints if e not in known]
        if unknown:
            raise InvalidRequest(f"Unknown endpoint '{unknown[0]}'.", param="endpoints")
        if row.linked_to and await store.get_model(row.linked_to) is None:
            raise InvalidRequest(f"No model '{row.linked_to}' to link to.", param="linked_to")

    async def insert(self, store: Store, row: Model) -> None:
        await store.insert_model(row)

    async def save(self, store: Store, row: Model) -> None:
        await store.upsert_model(row)

    async def present(self, request: web.Request, rows: list[Model]) -> list[dict[str, Any]]:
        return [model_view(r) for r in rows]


def add_routes(app: web.Application) -> None:
    CrudRoutes(Models()).add(app, "/console/models")
