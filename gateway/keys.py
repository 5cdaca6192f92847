"""Typed application and request state: every `AppKey` and `RequestKey` in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import ClientSession, web

if TYPE_CHECKING:  # string type arguments below; imported for the type checker only
    from gateway.auth import KeyCache  # noqa: F401
    from gateway.catalog import Catalog  # noqa: F401
    from gateway.console.invalidation import Invalidation  # noqa: F401
    from gateway.files.service import Files  # noqa: F401
    from gateway.limits import KeyLimits  # noqa: F401
    from gateway.login.state import Login  # noqa: F401
    from gateway.logs import RequestLog  # noqa: F401
    from gateway.metrics import Metrics  # noqa: F401
    from gateway.middleware import Scoped  # noqa: F401
    from gateway.router import Router  # noqa: F401
    from gateway.settings import Settings  # noqa: F401
    from gateway.shutdown import Drain  # noqa: F401
    from gateway.store.base import Store  # noqa: F401
    from gateway.store.records import ApiKey  # noqa: F401
    from gateway.timing import Timing  # noqa: F401
    from gateway.upstream import Upstream  # noqa: F401
    from gateway.usage import UsageWriter  # noqa: F401
    from ratelimit import (
        RedisClient,  # noqa: F401
        ScriptClient,  # noqa: F401
    )

SETTINGS = web.AppKey["Settings"]("settings")
STORE = web.AppKey["Store"]("store")
HTTP = web.AppKey[ClientSession]("http")
UPSTREAM = web.AppKey["Upstream"]("upstream")
CATALOG = web.AppKey["Catalog"]("catalog")
KEYS = web.AppKey["KeyCache"]("keys")
ROUTER = web.AppKey["Router"]("router")
REDIS = web.AppKey["RedisClient | None"]("redis")  # None: no Redis configured
USAGE = web.AppKey["UsageWriter"]("usage")
LIMITS = web.AppKey["KeyLimits"]("limits")
METRICS = web.AppKey["Metrics"]("metrics")
REQUEST_LOG = web.AppKey["RequestLog"]("request_log")
DRAIN = web.AppKey["Drain"]("drain")  # requests in flight; ends them on shutdown
FILES = web.AppKey["Files"]("files")  # stored files (generated images): store, signer, sweep
INVALIDATION = web.AppKey["Invalidation"]("invalidation")  # console changes -> every process
LOGIN = web.AppKey["Login"]("login")  # console login: providers, cookies, throttle
# Middlewares run only around the handlers of some paths (gateway/middleware.py)
SCOPED_MIDDLEWARES = web.AppKey["Scoped"]("scoped_middlewares")
# The routes setups add, installed wrapped once the app is complete (gateway/routes.py)
ROUTES = web.AppKey["list[web.RouteDef]"]("routes")

APIKEY = web.RequestKey["ApiKey"]("apikey")
REQUEST_ID = web.RequestKey[str]("request_id")
TIMING = web.RequestKey["Timing"]("timing")  # set by `observe.start`

# The request path's Redis scripts (key checks, channel slots, routing bus): the lean
# `FastRedis` on a plain Redis, the shared `RedisCluster` on a cluster; None without Redis.
REDIS_SCRIPTS = web.AppKey["ScriptClient | None"]("redis_scripts")
