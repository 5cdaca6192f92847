"""Limits that hold across gateway processes sharing one Redis, and usage that survives a
database outage."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from gateway.declare import DEMO_CATALOG
from gateway.keys import USAGE
from tests.harness import gateway_settings, running_gateway
from tests.processes import cli, gateways, new_key, write_config
from tests.servers.mariadb import StoppableMariaDB

BODY = {"model": "mock-chat", "messages": [{"role": "user", "content": "hi"}]}
FAST = {"X-Bella-Mock-Interval-Ms": "0"}


async def hammer(urls: list[str], key: str, seconds: float, workers: int = 24) -> tuple[int, int]:
    """Requests as fast as `workers` clients can send them for `seconds`: (accepted, rejected)."""
    headers = {"Authorization": f"Bearer {key}", **FAST}
    counts = {200: 0, 429: 0}
    deadline = time.monotonic() + seconds

    async def worker(http: aiohttp.ClientSession, url: str) -> None:
        while time.monotonic() < deadline:
            async with http.post(url + "/v1/chat/completions", json=BODY, headers=headers) as r:
                await r.read()
                counts[r.status] = counts.get(r.status, 0) + 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        await asyncio.gather(*(worker(http, urls[i % len(urls)]) for i in range(workers)))
    assert set(counts) == {200, 429}, counts
    return counts[200], counts[429]


async def test_qps_50_holds_across_three_processes(tmp_path: Path, redis_clean: str) -> None:
    config = write_config(
        tmp_path / "bella.yaml", tmp_path / "data", redis={"url": redis_clean}, catalog=DEMO_CATALOG
    )
    cli(config, "init")
    key = new_key(config, "--qps", "50")
    with gateways(config, tmp_path, 3) as procs:
        accepted, rejected = await hammer([p.url for p in procs], key, seconds=9.9)
    assert 475 <= accepted <= 525, accepted
    assert rejected > accepted  # the load was well above the limit


async def test_qps_50_holds_in_one_embedded_process(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, "", DEMO_CATALOG)
    async with running_gateway(settings) as gw:
        key = await gw.new_key(qps=50)
        accepted, _ = await hammer([gw.url], key, seconds=2.95, workers=8)
    assert 143 <= accepted <= 158, accepted


async def test_usage_survives_a_20_second_database_outage(
    tmp_path: Path, stoppable_mysql: StoppableMariaDB
) -> None:
    url = stoppable_mysql.db.create_database()
    settings = gateway_settings(tmp_path, url, DEMO_CATALOG)
    served = 0
    async with running_gateway(settings) as gw, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {gw.key}", **FAST}

        async def send(n: int) -> None:
            nonlocal served
            for _ in range(n):
                url = gw.base_url + "/chat/completions"
                async with http.post(url, json=BODY, headers=headers) as r:
                    assert r.status == 200
                    served += 1
                await asyncio.sleep(0.05)

        await send(20)
        stoppable_mysql.stop()
        outage = asyncio.create_task(send(300))
        await asyncio.sleep(20)
        spooled = gw.app[USAGE].spool.count
        stoppable_mysql.start()
        await outage
        await send(20)
        records = await gw.usage()
    assert spooled > 0
    assert served == 340
    assert len(records) == served
    assert len({r.request_id for r in records}) == served
