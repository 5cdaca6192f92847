"""/console/endpoints: the API paths the gateway serves, their kind and pricing unit."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from gateway.console.crud import CrudRoutes
from gateway.declare import ENDPOINTS, CatalogError
from gateway.store.base import Store
from gateway.store.records import Endpoint

KINDS = frozenset(e.kind for e in ENDPOINTS)
UNITS = frozenset(e.unit for e in ENDPOINTS)


def _text(entry: dict[str, Any], name: str, allowed: frozenset[str] | None = None) -> str:
    value = entry.get(name, "")
    if not isinstance(value, str) or len(value) > 191 or (allowed and value not in allowed):
        choices = f": one of {', '.join(sorted(allowed))}" if allowed else ""
        raise CatalogError(f"'{name}' must be text{choices}", name)
    return value


class Endpoints:
    entity = "endpoint"
    key = "path"
    fields = frozenset({"path", "kind", "category", "unit", "status"})

    async def rows(self, store: Store) -> list[Endpoint]:
        return await store.list_endpoints()

    async def get(self, store: Store, ident: str) -> Endpoint | None:
        return await store.get_endpoint(ident)

    def entry(self, row: Endpoint) -> dict[str, Any]:
        return asdict(row)

    def build(self, entry: dict[str, Any]) -> Endpoint:
        path = _text(entry, "path")
        if not path.startswith("/") or "//" in path or any(c.isspace() for c in path):
            raise CatalogError("An endpoint path looks like /v1/chat/completions", "path")
        status = entry.get("status", "active")
        if status not in ("active", "inactive"):
            raise CatalogError("status must be active or inactive", "status")
        return Endpoint(
            path=path,
            kind=_text(entry, "kind", KINDS),
            category=_text(entry, "category"),
            unit=_text(entry, "unit", UNITS | {""}),
            status=status,
        )

    async def check(self, store: Store, row: Endpoint) -> None:
        return None

    async def insert(self, store: Store, row: Endpoint) -> None:
        await store.insert_endpoint(row)

    async def save(self, store: Store, row: Endpoint) -> None:
        await store.upsert_endpoint(row)

    async def present(self, request: web.Request, rows: list[Endpoint]) -> list[dict[str, Any]]:
        return [asdict(r) for r in rows]


def add_routes(app: web.Application) -> None:
    CrudRoutes(Endpoints()).add(app, "/console/endpoints")
