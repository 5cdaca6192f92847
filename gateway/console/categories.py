"""/console/categories: the capability tree (`text`, `text/chat`, `audio/asr`, …)."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from aiohttp import web

from gateway.console.crud import CrudRoutes
from gateway.declare import CatalogError
from gateway.store.base import Store
from gateway.store.records import Category

CODE = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


class Categories:
    entity = "category"
    key = "code"
    fields = frozenset({"code", "name", "status"})

    async def rows(self, store: Store) -> list[Category]:
        return await store.list_categories()

    async def get(self, store: Store, ident: str) -> Category | None:
        return await store.get_category(ident)

    def entry(self, row: Category) -> dict[str, Any]:
        return asdict(row)

    def build(self, entry: dict[str, Any]) -> Category:
        code, name = entry.get("code"), entry.get("name", "")
        if not isinstance(code, str) or not CODE.match(code) or len(code) > 191:
            raise CatalogError("A category code is a path of lower-case words: text/chat", "code")
        if not isinstance(name, str) or len(name) > 255:
            raise CatalogError("A category name is text of at most 255 characters", "name")
        status = entry.get("status", "active")
        if status not in ("active", "inactive"):
            raise CatalogError("status must be active or inactive", "status")
        return Category(code=code, name=name, status=status)

    async def check(self, store: Store, row: Category) -> None:
        return None

    async def insert(self, store: Store, row: Category) -> None:
        await store.insert_category(row)

    async def save(self, store: Store, row: Category) -> None:
        await store.upsert_category(row)

    async def present(self, request: web.Request, rows: list[Category]) -> list[dict[str, Any]]:
        return [asdict(r) for r in rows]


def add_routes(app: web.Application) -> None:
    CrudRoutes(Categories()).add(app, "/console/categories")
