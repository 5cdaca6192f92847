"""/console/users: who may use the console. Only an `all` actor (the system key or an admin)
may see or change users, since granting admin is granting everything."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from gateway.console.audit import record
from gateway.console.crud import checked_fields, no_store
from gateway.console.guard import Actor, console_actor
from gateway.errors import InvalidRequest, PermissionDenied
from gateway.handlers.apikeys import json_response
from gateway.handlers.body import json_body
from gateway.keys import STORE
from gateway.login import users
from gateway.routes import add_route
from gateway.store.records import Status, User


async def _admin(request: web.Request) -> Actor:
    actor = await console_actor(request)
    if actor.role != "all":
        raise PermissionDenied("Only the system key or an admin may manage console users.")
    return actor


def user_view(user: User) -> dict[str, Any]:
    return asdict(user)


async def _audit(
    request: web.Request, actor: Actor, action: str, before: User | None, after: User
) -> None:
    old = None if before is None else user_view(before)
    await record(request, actor.name, "user", after.code, action, old, user_view(after))


async def list_users(request: web.Request) -> web.Response:
    await _admin(request)
    rows = await request.app[STORE].list_users()
    return no_store(json_response({"object": "list", "data": [user_view(u) for u in rows]}))


async def grant(request: web.Request) -> web.Response:
    """POST /console/users {"email", "role": "admin"}: create or update by email."""
    actor = await _admin(request)
    body = checked_fields(await json_body(request), frozenset({"email", "role"}))
    before, after = await users.grant(
        request.app[STORE], body.get("email", ""), body.get("role", "admin")
    )
    await _audit(request, actor, "grant", before, after)
    return no_store(json_response(user_view(after), status=201 if before is None else 200))


async def read(request: web.Request) -> web.Response:
    await _admin(request)
    user = await users.get_user(request.app[STORE], request.match_info["code"])
    return no_store(json_response(user_view(user)))


async def patch(request: web.Request) -> web.Response:
    actor = await _admin(request)
    body = checked_fields(await json_body(request), frozenset({"role", "name"}))
    store = request.app[STORE]
    before = await users.get_user(store, request.match_info["code"])
    name = body.get("name", before.name)
    if not isinstance(name, str) or len(name) > 255:
        raise InvalidRequest("'name' must be text.", param="name")
    role = users.check_role(body.get("role", before.role))
    after = await users.update(store, before, name=name, role=role)
    await _audit(request, actor, "update", before, after)
    return no_store(json_response(user_view(after)))


async def _set_status(request: web.Request, status: Status) -> web.Response:
    actor = await _admin(request)
    store = request.app[STORE]
    before = await users.get_user(store, request.match_info["code"])
    after = await users.set_status(store, before, status)
    await _audit(request, actor, "activate" if status == "active" else "deactivate", before, after)
    return no_store(json_response(user_view(after)))


async def activate(request: web.Request) -> web.Response:
    return await _set_status(request, "active")


async def deactivate(request: web.Request) -> web.Response:
    return await _set_status(request, "inactive")


async def logout(request: web.Request) -> web.Response:
    """POST /console/users/{code}/logout: end every session of that user."""
    actor = await _admin(request)
    store = request.app[STORE]
    before = await users.get_user(store, request.match_info["code"])
    after = await users.end_sessions(store, before)
    await _audit(request, actor, "logout_all", before, after)
    return no_store(json_response(user_view(after)))


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", "/console/users", list_users)
    add_route(app, "POST", "/console/users", grant)
    add_route(app, "GET", "/console/users/{code}", read)
    add_route(app, "PATCH", "/console/users/{code}", patch)
    add_route(app, "POST", "/console/users/{code}/activate", activate)
    add_route(app, "POST", "/console/users/{code}/deactivate", deactivate)
    add_route(app, "POST", "/console/users/{code}/logout", logout)
