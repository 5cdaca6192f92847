"""Typed application and request state: every `AppKey` and `RequestKey` in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import ClientSession, web

if TYPE_CHECKING:  # string type arguments below; imported for the type checker only
    from gateway.auth import KeyCache  # noqa: F401
    from gateway.catalog import Catalog  # noqa: F401
    from gateway.router import Router  # noqa: F401
    from gateway.settings import Settings  # noqa: F401
    from gateway.store.base import Store  # noqa: F401
    from gateway.store.records import ApiKey  # noqa: F401
    from gateway.upstream import Upstream  # noqa: F401
    from gateway.usage import UsageWriter  # noqa: F401

SETTINGS = web.AppKey["Settings"]("settings")
STORE = web.AppKey["Store"]("store")
HTTP = web.AppKey[ClientSession]("http")
UPSTREAM = web.AppKey["Upstream"]("upstream")
CATALOG = web.AppKey["Catalog"]("catalog")
KEYS = web.AppKey["KeyCache"]("keys")
ROUTER = web.AppKey["Router"]("router")
USAGE = web.AppKey["UsageWriter"]("usage")

APIKEY = web.RequestKey["ApiKey"]("apikey")
REQUEST_ID = web.RequestKey[str]("request_id")
