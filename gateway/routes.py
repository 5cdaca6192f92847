"""The app's routes: added here, installed wrapped once the app is complete.

The gateway runs with no aiohttp middleware at all: aiohttp then skips its middleware chain
(a wrapper per middleware and one more setting `current_app`, resumed on every await of
every request). Instead each route's handler is wrapped once, when `install` adds the routes
to the router: the wrapper (gateway/middleware.py) numbers the request, observes it, runs
the scoped middlewares of its path and renders failures. A last route catches every other
path and method, so a 404 or 405 is rendered the same way.

Setups call `add_route(app, "GET", path, handler)` instead of `app.router.add_get(...)`;
`create_app` calls `install` after every setup.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.keys import ROUTES

UNMATCHED = "unmatched"  # the endpoint label of paths no route serves

Wrap = Callable[[Handler, str], Handler]  # (handler, its route's path) -> wrapped handler


def add_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """Serve `method` on `path` (a GET serves HEAD too); installed by `install`."""
    app[ROUTES].append(web.RouteDef(method, path, handler, {}))


def install(app: web.Application, wrap: Wrap) -> None:
    """Add every route, each handler wrapped, and the catch-all for the rest."""
    router = app.router
    for route in app[ROUTES]:
        handler = wrap(route.handler, route.path)
        if route.method == "GET":
            router.add_get(route.path, handler)
        else:
            router.add_route(route.method, route.path, handler)
    router.add_route("*", "/{path:.*}", wrap(unmatched, UNMATCHED))


async def unmatched(request: web.Request) -> web.StreamResponse:
    """405 when another route serves the path with another method, else 404."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not request.match_info.route.resource:
            _, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()
