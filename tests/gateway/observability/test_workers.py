"""`serve --workers 2`: one port, one merged /metrics; a crashed worker comes back; SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.gateway.observability.procs import Served, init_demo
from tests.gateway.observability.scrape import promtool_check, scrape, value

REQUESTS = 24
BANNER = re.compile(rb"bella-gateway worker (\d+) serving on")
LABELS = {"endpoint": "/v1/chat/completions", "model": "mock-chat", "status_class": "2xx"}


@pytest.fixture
def key(tmp_path: Path) -> str:
    return init_demo(tmp_path / "data")


@pytest.fixture
def workers(tmp_path: Path, key: str) -> Iterator[Served]:
    served = Served(tmp_path, "--workers", "2", BELLA_LOGS_REQUESTS="stdout")
    try:
        yield served
    finally:
        served.stop()
        for pid in worker_pids(served):  # orphans, should the supervisor have died first
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def worker_pids(served: Served) -> list[int]:
    return [int(pid) for pid in BANNER.findall(served.stdout.read_bytes())]


async def wait_for_workers(served: Served, count: int) -> list[int]:
    for _ in range(400):
        pids = worker_pids(served)
        if len(pids) >= count:
            return pids
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} workers started:\n{served.stderr.read_text()}")


async def send(served: Served, key: str, count: int) -> None:
    body = {"model": "mock-chat", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}", "X-Bella-Mock-Tokens": "1"}
    for _ in range(count):  # a new connection each time: the kernel picks a worker per connection
        connector = aiohttp.TCPConnector(force_close=True)
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.post(served.url + "/v1/chat/completions", json=body, headers=headers) as reply,
        ):
            assert reply.status == 200


async def counted(served: Served) -> set[float]:
    """The request count as four scrapes (landing on either worker) see it."""
    return {value(await scrape(served.url), "bella_requests_total", **LABELS) for _ in range(4)}


async def test_two_workers_export_each_count_once(workers: Served, key: str, promtool: str) -> None:
    await workers.ready()
    first = await wait_for_workers(workers, 2)
    await send(workers, key, REQUESTS)
    assert await logged_pids(workers, set(first)) == set(first), (
        "both workers should have served requests"
    )
    assert await counted(workers) == {REQUESTS}
    promtool_check(promtool, await scrape(workers.url))

    os.kill(first[0], signal.SIGKILL)  # a crash: the supervisor starts another worker
    pids = await wait_for_workers(workers, 3)
    await workers.ready()
    assert await counted(workers) == {REQUESTS}  # the dead worker's counts are kept
    await send(workers, key, 4)
    assert await counted(workers) == {REQUESTS + 4}

    workers.signal(signal.SIGTERM)
    assert await workers.exit_code(timeout_s=20) == 0
    for pid in pids[1:]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def logged_pids(served: Served, expected: set[int]) -> set[int]:
    """The workers seen in the request log, once it shows `expected` (lines are written
    together, up to 50 ms after their requests) or after 2 s."""
    for _ in range(40):
        pids = request_pids(served)
        if pids == expected:
            return pids
        await asyncio.sleep(0.05)
    return request_pids(served)


def request_pids(served: Served) -> set[int]:
    """The workers that wrote request log lines (to the supervisor's stdout)."""
    lines = served.stdout.read_bytes().splitlines()
    return {int(orjson.loads(line)["pid"]) for line in lines if line.startswith(b"{")}
