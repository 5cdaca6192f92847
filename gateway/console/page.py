"""The web console page: files under `static/` shipped in the package, strict headers.

No build step and no Node: plain HTML, CSS and JavaScript modules under `static/`. The page
is public (it holds no data, only code); every datum comes from the JSON API after login.
The CSP allows scripts and styles from this origin only, so even a name that slipped
through as markup could not run.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from gateway.console.guard import page_guard
from gateway.errors import NotFound
from gateway.routes import add_route

STATIC = Path(__file__).parent / "static"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css|svg|html)$")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".html": "text/html",
}


def _file(name: str) -> web.FileResponse:
    path = STATIC / name
    if not NAME.match(name) or not path.is_file():
        raise NotFound("No such console file.")
    response = web.FileResponse(path, headers=HEADERS)
    response.content_type = TYPES[path.suffix]
    return response


async def page(request: web.Request) -> web.StreamResponse:
    await page_guard(request)
    return _file("index.html")


async def asset(request: web.Request) -> web.StreamResponse:
    await page_guard(request)
    return _file(request.match_info["name"])


async def to_page(request: web.Request) -> web.StreamResponse:
    await page_guard(request)
    return web.Response(status=302, headers={"Location": "/console/"})


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", "/console", to_page)
    add_route(app, "GET", "/console/", page)
    add_route(app, "GET", "/console/static/{name}", asset)
