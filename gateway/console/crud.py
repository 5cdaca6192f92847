"""The REST shape every catalog resource shares: list, create, read, PATCH, (de)activate.

A `Resource` says how its rows are read, validated (the config catalog's own validation,
`gateway.declare`), stored and shown; `CrudRoutes` turns it into handlers that check the
actor, refuse unknown fields, audit every change and make it reach every process.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web

from gateway.console.audit import record
from gateway.console.guard import console_actor
from gateway.declare import CatalogError
from gateway.errors import InvalidRequest, NotFound
from gateway.handlers.apikeys import json_response
from gateway.handlers.body import json_body
from gateway.keys import INVALIDATION, STORE
from gateway.routes import add_route
from gateway.store.base import DuplicateError, Store
from gateway.store.records import Status

Row = TypeVar("Row")


class Resource(Protocol[Row]):
    entity: str  # as the audit log names it: "model"
    key: str  # the identifying field, also the route's variable: "name"
    fields: frozenset[str]  # what a body may set

    async def rows(self, store: Store) -> list[Row]: ...
    async def get(self, store: Store, ident: str) -> Row | None: ...
    def entry(self, row: Row) -> dict[str, Any]: ...  # catalog-shaped, secrets included
    def build(self, entry: dict[str, Any]) -> Row: ...  # validates; CatalogError
    async def check(self, store: Store, row: Row) -> None: ...  # references to other rows
    async def insert(self, store: Store, row: Row) -> None: ...  # DuplicateError
    async def save(self, store: Store, row: Row) -> None: ...
    async def present(self, request: web.Request, rows: list[Row]) -> list[dict[str, Any]]: ...


def no_store(response: web.Response) -> web.Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def checked_fields(body: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(f"Unknown field '{unknown[0]}'.", param=unknown[0])
    return body


class CrudRoutes(Generic[Row]):
    def __init__(self, resource: Resource[Row]) -> None:
        self.r = resource

    def _build(self, entry: dict[str, Any]) -> Row:
        try:
            return self.r.build(entry)
        except CatalogError as exc:
            raise InvalidRequest(str(exc), param=exc.param) from None

    async def one(self, request: web.Request) -> Row:
        ident = request.match_info[self.r.key]
        row = await self.r.get(request.app[STORE], ident)
        if row is None:
            raise NotFound(f"No {self.r.entity} '{ident}'.", code=f"{self.r.entity}_not_found")
        return row

    async def _shown(self, request: web.Request, row: Row, status: int = 200) -> web.Response:
        [view] = await self.r.present(request, [row])
        return no_store(json_response(view, status=status))

    async def _changed(
        self, request: web.Request, actor: str, action: str, before: Row | None, after: Row
    ) -> None:
        await request.app[INVALIDATION].catalog_changed()
        ident = str(self.r.entry(after)[self.r.key])
        old = None if before is None else self.r.entry(before)
        await record(request, actor, self.r.entity, ident, action, old, self.r.entry(after))

    async def list(self, request: web.Request) -> web.Response:
        await console_actor(request)
        views = await self.r.present(request, await self.r.rows(request.app[STORE]))
        return no_store(json_response({"object": "list", "data": views}))

    async def read(self, request: web.Request) -> web.Response:
        await console_actor(request)
        return await self._shown(request, await self.one(request))

    async def create(self, request: web.Request) -> web.Response:
        actor = await console_actor(request)
        body = checked_fields(await json_body(request), self.r.fields)
        row = self._build(body)
        store = request.app[STORE]
        await self.r.check(store, row)
        try:
            await self.r.insert(store, row)
        except DuplicateError:
            ident = self.r.entry(row)[self.r.key]
            raise InvalidRequest(
                f"A {self.r.entity} '{ident}' exists already.", code="duplicate", param=self.r.key
            ) from None
        await self._changed(request, actor.name, "create", None, row)
        return await self._shown(request, row, status=201)

    async def patch(self, request: web.Request) -> web.Response:
        actor = await console_actor(request)
        body = checked_fields(await json_body(request), self.r.fields)
        before = await self.one(request)
        current = self.r.entry(before)
        if self.r.key in body and body[self.r.key] != current[self.r.key]:
            raise InvalidRequest(f"'{self.r.key}' cannot change.", param=self.r.key)
        after = self._build({**current, **body})
        store = request.app[STORE]
        await self.r.check(store, after)
        await self.r.save(store, after)
        await self._changed(request, actor.name, "update", before, after)
        return await self._shown(request, after)

    async def _set_status(self, request: web.Request, status: Status) -> web.Response:
        actor = await console_actor(request)
        before = await self.one(request)
        after = self._build({**self.r.entry(before), "status": status})
        await self.r.save(request.app[STORE], after)
        action = "activate" if status == "active" else "deactivate"
        await self._changed(request, actor.name, action, before, after)
        return await self._shown(request, after)

    async def activate(self, request: web.Request) -> web.Response:
        return await self._set_status(request, "active")

    async def deactivate(self, request: web.Request) -> web.Response:
        return await self._set_status(request, "inactive")

    def add(self, app: web.Application, base: str) -> None:
        one = f"{base}/{{{self.r.key}}}"
        add_route(app, "GET", base, self.list)
        add_route(app, "POST", base, self.create)
        add_route(app, "GET", one, self.read)
        add_route(app, "PATCH", one, self.patch)
        add_route(app, "POST", f"{one}/activate", self.activate)
        add_route(app, "POST", f"{one}/deactivate", self.deactivate)
