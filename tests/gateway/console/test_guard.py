"""Who may call /console: every route of the table, not a hand list.

A `low` (or `high`) key gets 403 on every /console route, the page and its files included;
no credentials get 401 on every API route; a console key and an admin session get in.
"""

from __future__ import annotations

import re

import pytest

from tests.gateway.console.client import Browser, api
from tests.harness import Gateway

PUBLIC = {"/console", "/console/", "/console/static/{name}"}  # the page: code, no data
SAMPLE = {"name": "app.js"}


def console_routes(gw: Gateway) -> list[tuple[str, str]]:
    routes = []
    for route in gw.app.router.routes():
        info = route.resource.canonical if route.resource is not None else ""
        if info.startswith("/console") and route.method != "HEAD":
            routes.append((route.method, info))
    return sorted(set(routes))


def concrete(pattern: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m[1], "x-none"), pattern)


async def test_the_table_has_every_console_resource(gateway: Gateway) -> None:
    paths = {p for _, p in console_routes(gateway)}
    for resource in ("categories", "endpoints", "models", "channels", "apikeys", "usage"):
        assert f"/console/{resource}" in paths
    assert "/console/audit" in paths
    assert len(console_routes(gateway)) > 40


@pytest.mark.parametrize("role", ["low", "high"])
async def test_keys_without_the_console_role_get_403_everywhere(
    gateway: Gateway, role: str
) -> None:
    key = await gateway.new_key(role)
    for method, pattern in console_routes(gateway):
        status, body = await api(gateway, method, concrete(pattern), key, body={})
        assert status == 403, (method, pattern, body)
        assert body["error"]["type"] == "permission_error"


async def test_no_credentials_get_401_on_every_api_route(gateway: Gateway) -> None:
    async with Browser(gateway) as browser:
        for method, pattern in console_routes(gateway):
            status, body = await browser.call(method, concrete(pattern), {})
            if pattern in PUBLIC:
                assert status in (200, 302), pattern
                continue
            assert status == 401, (method, pattern, body)
            assert body["error"]["code"] == "login_required"


async def test_console_keys_and_admin_sessions_get_in(gateway: Gateway) -> None:
    console = await gateway.new_key("console")
    assert (await api(gateway, "GET", "/console/models", console))[0] == 200
    assert (await api(gateway, "GET", "/console/users", console))[0] == 403  # only `all`
    async with Browser(gateway) as browser:
        assert (await browser.key_login(console))[0] == 200
        assert (await browser.call("GET", "/console/channels"))[0] == 200
        status, _ = await browser.call("POST", "/console/categories", {"code": "text"})
        assert status == 201
    low = await gateway.new_key("low")
    async with Browser(gateway) as browser:
        status, body = await browser.key_login(low)
        assert (status, body["error"]["code"]) == (401, "login_failed")
        assert (await browser.call("GET", "/console/channels"))[0] == 401


async def test_the_page_is_served_with_strict_headers(gateway: Gateway) -> None:
    async with Browser(gateway) as browser:
        status, html = await browser.call("GET", "/console/")
        assert status == 200
        assert '<script type="module" src="/console/static/app.js">' in html
        async with browser.http.get(gateway.url + "/console/") as response:
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert response.headers["X-Frame-Options"] == "DENY"
        status, _ = await browser.call("GET", "/console/static/..%2Fchannels.py")
        assert status == 404
        status, _ = await browser.call("GET", "/console/static/nope.js")
        assert status == 404
