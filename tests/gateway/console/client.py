"""Calling the console as a script does (bearer key) and as a browser does (cookies, CSRF)."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.harness import Gateway


async def api(
    gw: Gateway,
    method: str,
    path: str,
    key: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One bearer-authenticated call (`key` defaults to the system key)."""
    sent = {"Authorization": f"Bearer {key or gw.key}", **(headers or {})}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, gw.url + path, json=body, headers=sent) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


class Browser:
    """A cookie-keeping client, as a browser is: it follows the console's CSRF rules."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        if csrf and self.csrf:
            sent["X-CSRF-Token"] = self.csrf
        async with self.http.request(
            method, self.gw.url + path, json=body, headers=sent, allow_redirects=False
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def key_login(self, key: str) -> tuple[int, Any]:
        status, body = await self.call("POST", "/login/key", {"key": key})
        if status == 200:
            self.csrf = body["csrf"]
        return status, body

    async def follow(self, path: str) -> aiohttp.ClientResponse:
        """GET `path` following redirects (through fake providers too); the last response."""
        async with self.http.get(self.gw.url + path) as response:
            await response.read()
            return response

    async def refresh_csrf(self) -> int:
        status, body = await self.call("GET", "/login/session")
        if status == 200:
            self.csrf = body["csrf"]
        return status

    def cookie(self, name: str) -> str | None:
        for cookie in self.http.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None
