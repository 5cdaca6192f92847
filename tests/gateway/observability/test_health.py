"""/healthz and /readyz: which part is not ready, by name."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp

from gateway.declare import DEMO_CATALOG
from gateway.keys import DRAIN
from tests.gateway.observability.scrape import scrape, value
from tests.harness import Gateway, gateway_settings, running_gateway
from tests.servers.redis import free_port


async def get(gw: Gateway, path: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(gw.url + path) as response:
        body: dict[str, Any] = await response.json()
        return response.status, body


async def test_alive_and_ready(gateway: Gateway) -> None:
    assert await get(gateway, "/healthz") == (200, {"status": "ok"})
    assert await get(gateway, "/readyz") == (200, {"status": "ready", "failed": {}})


async def test_not_ready_while_draining(gateway: Gateway) -> None:
    gateway.app[DRAIN].draining = True
    status, body = await get(gateway, "/readyz")
    assert (status, body["failed"]) == (503, {"shutdown": "draining"})


async def test_not_ready_when_the_schema_is_behind(gateway: Gateway, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "bella.db") as db:
        db.execute(
            "DELETE FROM schema_migrations"
            " WHERE version = (SELECT MAX(version) FROM schema_migrations)"
        )
    status, body = await get(gateway, "/readyz")
    assert status == 503
    assert body["status"] == "unready"
    assert "schema at" in body["failed"]["migrations"]


async def test_not_ready_without_redis(tmp_path: Path) -> None:
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    settings = gateway_settings(
        tmp_path, "", DEMO_CATALOG, BELLA_REDIS_URL=nothing_there, BELLA_LOGS_REQUESTS="off"
    )
    async with running_gateway(settings) as gw:
        status, body = await get(gw, "/readyz")
        assert status == 503
        assert set(body["failed"]) == {"redis"}
        assert value(await scrape(gw.url), "bella_redis_errors_total") >= 1
