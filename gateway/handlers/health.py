"""Liveness and readiness."""

from __future__ import annotations

import logging

import orjson
from aiohttp import web

from gateway.keys import STORE
from gateway.store.schema import LATEST_VERSION

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    failed: dict[str, str] = {}
    store = request.app[STORE]
    try:
        await store.ping()
        version = await store.schema_version()
        if version < LATEST_VERSION:
            failed["migrations"] = f"schema at {version}, code expects {LATEST_VERSION}"
    except Exception as exc:
        log.warning("readiness: the store is unreachable", exc_info=True)
        failed["store"] = type(exc).__name__
    status = 503 if failed else 200
    body = {"status": "unready" if failed else "ready", "failed": failed}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
