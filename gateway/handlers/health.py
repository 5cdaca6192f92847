"""Liveness and readiness.

`/healthz`: the process answers. `/readyz`: it can serve — the store answers and its schema is
current, Redis (when configured) answers PING, and it is not shutting down; otherwise 503 with
`{"status": "unready", "failed": {part: why}}` naming each failed part.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from aiohttp import web

from gateway.keys import DRAIN, METRICS, REDIS, SETTINGS, STORE
from gateway.store.schema import LATEST_VERSION

log = logging.getLogger(__name__)

Failed = dict[str, str]


async def healthz(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    failed: Failed = {}
    await _check_store(request.app, failed)
    await _check_redis(request.app, failed)
    drain = request.app.get(DRAIN)
    if drain is not None and drain.draining:
        failed["shutdown"] = "draining"
    status = 503 if failed else 200
    body = {"status": "unready" if failed else "ready", "failed": failed}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


async def _check_store(app: web.Application, failed: Failed) -> None:
    try:
        await app[STORE].ping()
        version = await app[STORE].schema_version()
    except Exception as exc:
        log.warning("readiness: the store is unreachable", exc_info=True)
        app[METRICS].database_error("readiness")
        failed["store"] = type(exc).__name__
        return
    if version < LATEST_VERSION:
        failed["migrations"] = f"schema at {version}, code expects {LATEST_VERSION}"


async def _check_redis(app: web.Application, failed: Failed) -> None:
    redis = app.get(REDIS)
    if redis is None:
        return
    try:
        await asyncio.wait_for(redis.ping(), app[SETTINGS].redis.timeout_s)
    except Exception as exc:
        log.warning("readiness: Redis is unreachable", exc_info=True)
        app[METRICS].redis_error()
        failed["redis"] = type(exc).__name__
