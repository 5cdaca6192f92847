"""/console/apikeys: every key, for console and all roles. Each change is audited."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from gateway.console.audit import record
from gateway.console.guard import Actor, console_actor
from gateway.errors import InvalidRequest, PermissionDenied
from gateway.handlers.apikeys import json_response, key_view, name_from, spec_from
from gateway.handlers.body import json_body
from gateway.keyadmin import RANK, KeyLimitsSpec, create_key, get_key, reset_key, update_key
from gateway.keys import INVALIDATION, LIMITS, STORE
from gateway.routes import add_route
from gateway.store.records import ApiKey, Status


def _audit_view(key: ApiKey) -> dict[str, Any]:
    view = asdict(key)
    view.pop("sha256")
    view["month_quota"] = None if key.month_quota is None else str(key.month_quota)
    return view


async def _audit(
    request: web.Request, actor: Actor, action: str, before: ApiKey | None, after: ApiKey | None
) -> None:
    subject = after or before
    code = subject.code if subject else ""
    old = _audit_view(before) if before else None
    new = _audit_view(after) if after else None
    await record(request, actor.name, "apikey", code, action, old, new)


def _not_above(actor: Actor, spec: KeyLimitsSpec) -> None:
    if RANK[spec.role] > RANK.get(actor.role, 0):
        raise PermissionDenied(f"Role '{actor.role}' cannot grant role '{spec.role}'.")


async def list_keys(request: web.Request) -> web.Response:
    await console_actor(request)
    quota = request.app[LIMITS].quota
    rows = await request.app[STORE].list_apikeys()
    return json_response({"object": "list", "data": [key_view(k, quota) for k in rows]})


async def create(request: web.Request) -> web.Response:
    actor = await console_actor(request)
    body = await json_body(request)
    spec = spec_from(body)
    _not_above(actor, spec)
    store = request.app[STORE]
    parent_code = body.get("parent_code")
    if parent_code is not None and not isinstance(parent_code, str):
        raise InvalidRequest("'parent_code' must be a string.", param="parent_code")
    parent = await get_key(store, parent_code) if parent_code else None
    secret, row = await create_key(store, name_from(body), spec, parent)
    await _audit(request, actor, "create", None, row)
    return json_response({**key_view(row, request.app[LIMITS].quota), "key": secret}, status=201)


async def read(request: web.Request) -> web.Response:
    await console_actor(request)
    key = await get_key(request.app[STORE], request.match_info["code"])
    return json_response(key_view(key, request.app[LIMITS].quota))


async def patch(request: web.Request) -> web.Response:
    actor = await console_actor(request)
    body = await json_body(request)
    store = request.app[STORE]
    before = await get_key(store, request.match_info["code"])
    spec = None
    if {"role", "qps", "concurrency", "month_quota"} & body.keys():
        current = {
            "role": before.role,
            "qps": before.qps,
            "concurrency": before.concurrency,
            "month_quota": None if before.month_quota is None else str(before.month_quota),
        }
        spec = spec_from({**current, **body})
        _not_above(actor, spec)
    name = name_from(body) if "name" in body else None
    after = await update_key(store, before, name=name, spec=spec, status=None)
    await request.app[INVALIDATION].key_changed(before.sha256)
    await _audit(request, actor, "update", before, after)
    return json_response(key_view(after, request.app[LIMITS].quota))


async def _set_status(request: web.Request, status: Status) -> web.Response:
    actor = await console_actor(request)
    store = request.app[STORE]
    before = await get_key(store, request.match_info["code"])
    if before.code == actor.key_code and status == "inactive":
        raise InvalidRequest("A key cannot deactivate itself.")
    after = await update_key(store, before, name=None, spec=None, status=status)
    await request.app[INVALIDATION].key_changed(before.sha256)
    await _audit(request, actor, "activate" if status == "active" else "deactivate", before, after)
    return json_response(key_view(after, request.app[LIMITS].quota))


async def activate(request: web.Request) -> web.Response:
    return await _set_status(request, "active")


async def deactivate(request: web.Request) -> web.Response:
    return await _set_status(request, "inactive")


async def reset(request: web.Request) -> web.Response:
    actor = await console_actor(request)
    store = request.app[STORE]
    before = await get_key(store, request.match_info["code"])
    secret, after = await reset_key(store, before)
    await request.app[INVALIDATION].key_changed(before.sha256)
    await _audit(request, actor, "reset", before, after)
    return json_response({**key_view(after, request.app[LIMITS].quota), "key": secret})


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", "/console/apikeys", list_keys)
    add_route(app, "POST", "/console/apikeys", create)
    add_route(app, "GET", "/console/apikeys/{code}", read)
    add_route(app, "PATCH", "/console/apikeys/{code}", patch)
    add_route(app, "POST", "/console/apikeys/{code}/reset", reset)
    add_route(app, "POST", "/console/apikeys/{code}/activate", activate)
    add_route(app, "POST", "/console/apikeys/{code}/deactivate", deactivate)
