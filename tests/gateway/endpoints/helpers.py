"""Clients for the endpoint tests."""

from __future__ import annotations

import asyncio

import aiohttp
from openai import AsyncOpenAI

from gateway.store.records import UsageRecord
from tests.harness import Gateway


def sdk(gw: Gateway, key: str | None = None) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=gw.base_url, api_key=key or gw.key, max_retries=0)


def ws_url(gw: Gateway, path: str) -> str:
    return gw.url.replace("http://", "ws://", 1) + path


async def usage_of(gw: Gateway, endpoint: str, count: int = 1) -> list[UsageRecord]:
    """The usage records of `endpoint`, waiting briefly for a handler still finishing."""
    for _ in range(100):
        records = [r for r in await gw.usage() if r.endpoint == endpoint]
        if len(records) >= count:
            return records
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} usage records for {endpoint}, got {records}")


async def post(
    gw: Gateway, path: str, *, json: object = None, data: object = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """POST with the gateway's key (unless headers say otherwise): status, headers, body."""
    sent = {"Authorization": f"Bearer {gw.key}", **headers}
    async with (
        aiohttp.ClientSession() as http,
        http.post(gw.url + path, json=json, data=data, headers=sent) as answer,
    ):
        return answer.status, dict(answer.headers), await answer.read()
