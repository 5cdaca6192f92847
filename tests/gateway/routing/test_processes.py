"""Real gateway processes (`bella-gateway serve`) sharing one Redis and one MariaDB."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from cryptography.fernet import Fernet

from ratelimit import RedisClient
from ratelimit.redis import lease_key
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway.routing.conftest import StartFake, channel, chat, eventually, slots_held
from tests.servers.mariadb import MariaDB
from tests.servers.redis import free_port

pytestmark = [pytest.mark.redis, pytest.mark.mysql]

BIN = Path(sys.executable).parent / "bella-gateway"
LEASES = lease_key("ch:ch-shared")
READY_TIMEOUT_S = 20.0


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@dataclass
class Cluster:
    processes: list[Process]
    key: str


def write_config(
    path: Path, database_url: str, redis_url: str, fake: FakeOpenAI, **limits: Any
) -> Path:
    config = {
        "server": {"data_dir": str(path.parent / "data")},
        "database": {"url": database_url},
        "redis": {"url": redis_url},
        "secrets": {"master_key": Fernet.generate_key().decode()},
        "limits": limits,
        "queue": {"poll_s": 0.2},
        "catalog": {
            "models": [{"name": "gpt-test"}],
            "channels": [channel(fake.url, "ch-shared", max_concurrency=5)],
        },
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def init(config: Path) -> str:
    """`bella-gateway init`: migrate, apply the catalog, and return the printed system key."""
    done = subprocess.run(
        [str(BIN), "--config", str(config), "init"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [secret] = [line for line in done.stdout.splitlines() if line.startswith("sk-")]
    return secret


@contextmanager
def spawned(config: Path, n: int) -> Iterator[list[Process]]:
    processes = []
    try:
        for index in range(n):
            port = free_port()
            log = config.parent / f"gateway-{index}.log"
            with open(log, "wb") as out:
                argv = [str(BIN), "--config", str(config), "serve", "--port", str(port)]
                popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
            processes.append(Process(popen, f"http://127.0.0.1:{port}", log))
        yield processes
    finally:
        for process in processes:
            if process.popen.poll() is None:
                process.popen.terminate()
        for process in processes:
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=10)


async def wait_ready(http: aiohttp.ClientSession, process: Process) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            pytest.fail(f"gateway exited with {process.popen.returncode}:\n{process.tail()}")
        try:
            async with http.get(f"{process.url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    pytest.fail(f"gateway not ready in {READY_TIMEOUT_S} s:\n{process.tail()}")


@asynccontextmanager
async def gateways(
    tmp_path: Path,
    n: int,
    http: aiohttp.ClientSession,
    mysql_server: MariaDB,
    redis_url: str,
    fake: FakeOpenAI,
    **limits: Any,
) -> AsyncIterator[Cluster]:
    config = write_config(
        tmp_path / "bella.yaml", mysql_server.create_database(), redis_url, fake, **limits
    )
    key = init(config)
    with spawned(config, n) as processes:
        await asyncio.gather(*(wait_ready(http, p) for p in processes))
        yield Cluster(processes, key)


async def test_200_streams_over_3_processes_never_exceed_5_upstream(
    tmp_path: Path,
    start_fake: StartFake,
    http: aiohttp.ClientSession,
    mysql_server: MariaDB,
    redis_clean: str,
    redis: RedisClient,
) -> None:
    fake = await start_fake(chunks=5, interval_s=0.01)
    async with gateways(tmp_path, 3, http, mysql_server, redis_clean, fake) as cluster:
        urls = [p.url for p in cluster.processes]
        max_wait = 2.0
        replies = await asyncio.gather(
            *(
                chat(http, urls[i % 3], cluster.key, stream=True, max_wait=max_wait)
                for i in range(200)
            )
        )
        outcomes = Counter((r.status, r.code) for r in replies)
        assert set(outcomes) <= {(200, ""), (429, "queue_timeout")}, outcomes
        assert outcomes[(200, "")] >= 20, outcomes
        assert all(r.elapsed >= max_wait - 0.05 for r in replies if r.status == 429)
        assert fake.max_in_flight == 5
        assert len(fake.requests) == outcomes[(200, "")]
        await eventually(lambda: slots_held(redis, "ch-shared", 0), timeout_s=2.0)


async def test_a_killed_process_gives_its_slots_back_within_the_lease_ttl(
    tmp_path: Path,
    start_fake: StartFake,
    http: aiohttp.ClientSession,
    mysql_server: MariaDB,
    redis_clean: str,
    redis: RedisClient,
) -> None:
    fake = await start_fake(chunks=200, interval_s=0.05)
    ttl = 1.5
    async with gateways(
        tmp_path, 2, http, mysql_server, redis_clean, fake, lease_ttl_s=ttl
    ) as cluster:
        doomed, survivor = cluster.processes
        held = [
            asyncio.create_task(chat(http, doomed.url, cluster.key, stream=True)) for _ in range(5)
        ]
        await eventually(lambda: slots_held(redis, "ch-shared", 5))
        await asyncio.sleep(ttl)  # the leases have been renewed at least once
        assert await redis.zcard(LEASES) == 5
        doomed.popen.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await asyncio.gather(*held, return_exceptions=True)
        await eventually(lambda: slots_held(redis, "ch-shared", 0), timeout_s=ttl + 1.0)
        assert time.monotonic() - killed_at <= ttl + 0.5
        fake.chunks = 2
        reply = await chat(http, survivor.url, cluster.key, stream=True, max_wait=0)
        assert reply.status == 200
