"""GET /console/meta: the vocabularies the console's forms offer (protocols, roles, …)."""

from __future__ import annotations

from aiohttp import web

from gateway.console.crud import no_store
from gateway.console.guard import console_actor
from gateway.declare import ENDPOINTS, PRIORITIES, PROTOCOLS
from gateway.handlers.apikeys import json_response
from gateway.roles import ROLES
from gateway.routes import add_route


async def meta(request: web.Request) -> web.Response:
    actor = await console_actor(request)
    return no_store(
        json_response(
            {
                "actor": {"name": actor.name, "role": actor.role},
                "protocols": sorted(PROTOCOLS),
                "priorities": ["high", "normal", "low"] if PRIORITIES else [],
                "endpoint_kinds": sorted({e.kind for e in ENDPOINTS}),
                "roles": list(ROLES),
            }
        )
    )


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", "/console/meta", meta)
