"""Helpers for the routing tests: fake upstreams, a raw HTTP client, gateways in process."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from redis.asyncio.cluster import RedisCluster

from gateway.keys import ROUTER
from gateway.router import Router
from gateway.routing.slots import slot_id
from ratelimit import RedisClient, redis_from_url
from ratelimit.redis import lease_key
from tests.fakes.openai_upstream import API_KEY, FakeOpenAI
from tests.harness import Gateway, chat_catalog, chat_channel, gateway_settings, running_gateway

MESSAGES = [{"role": "user", "content": "Say something."}]

StartFake = Callable[..., Awaitable[FakeOpenAI]]


@dataclass
class Reply:
    status: int
    channel: str
    code: str
    elapsed: float
    headers: dict[str, str]


@pytest.fixture
async def start_fake() -> AsyncIterator[StartFake]:
    """Start fake OpenAI upstreams (closed at the end of the test)."""
    fakes: list[FakeOpenAI] = []

    async def start(**behaviour: Any) -> FakeOpenAI:
        fake = FakeOpenAI(**behaviour)
        await fake.start()
        fakes.append(fake)
        return fake

    yield start
    for fake in fakes:
        await fake.close()


@pytest.fixture
async def redis(redis_clean: str) -> AsyncIterator[RedisClient]:
    """A client of the shared test Redis, emptied for this test."""
    client = redis_from_url(redis_clean)
    yield client
    await client.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


def channel(fake_url: str, code: str, **fields: Any) -> dict[str, Any]:
    return chat_channel(fake_url, API_KEY, code=code, **fields)


@asynccontextmanager
async def gateway(tmp_path: Path, *channels: dict[str, Any], **env: str) -> AsyncIterator[Gateway]:
    """An embedded gateway (SQLite under `tmp_path`) serving `gpt-test` over `channels`."""
    settings = gateway_settings(tmp_path, "", chat_catalog(*channels), **env)
    async with running_gateway(settings) as gw:
        yield gw


def router_of(gw: Gateway) -> Router:
    return gw.app[ROUTER]


async def chat(
    session: aiohttp.ClientSession,
    base_url: str,
    key: str,
    *,
    stream: bool = False,
    max_wait: float | None = None,
    model: str = "gpt-test",
) -> Reply:
    """One chat completion, read to the end; the status, serving channel and error code."""
    headers = {"Authorization": f"Bearer {key}"}
    if max_wait is not None:
        headers["X-Bella-Max-Wait"] = str(max_wait)
    body = {"model": model, "messages": MESSAGES, "stream": stream}
    started = time.monotonic()
    async with session.post(
        f"{base_url}/v1/chat/completions", data=orjson.dumps(body), headers=headers
    ) as response:
        data = await response.read()
    code = ""
    if response.status >= 400:
        code = orjson.loads(data)["error"]["code"]
    elif stream:
        assert data.endswith(b"data: [DONE]\n\n"), data[-200:]
    return Reply(
        status=response.status,
        channel=response.headers.get("X-Bella-Channel", ""),
        code=code,
        elapsed=time.monotonic() - started,
        headers=dict(response.headers),
    )


async def slots_held(client: RedisClient | RedisCluster, code: str, n: int) -> bool:
    """Whether Redis holds exactly `n` slot leases on channel `code` (for `eventually`)."""
    return int(await client.zcard(lease_key(slot_id(code)))) == n


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout_s: float = 5.0) -> None:
    """Wait (bounded) until `check()` holds; `check` may be a plain or an async function."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.02)
