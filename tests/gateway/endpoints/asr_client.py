"""A small NLS-speaking test client over aiohttp's WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from tests.gateway.endpoints.helpers import ws_url
from tests.harness import Gateway

PATH = "/v1/audio/asr/stream"


def command(name: str, task_id: str = "task-1", **payload: Any) -> str:
    header = {"namespace": "SpeechTranscriber", "name": name, "task_id": task_id}
    return orjson.dumps({"header": header, "payload": payload}).decode()


def start(**payload: Any) -> str:
    return command("StartTranscription", format="pcm", sample_rate=16000, **payload)


def stop() -> str:
    return command("StopTranscription")


@asynccontextmanager
async def session(
    gw: Gateway, model: str = "mock-asr", **headers: str
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    sent = {"Authorization": f"Bearer {gw.key}", **headers}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ws_url(gw, f"{PATH}?model={model}"), headers=sent) as ws,
    ):
        yield ws


async def event(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5.0)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    loaded: dict[str, Any] = orjson.loads(msg.data)
    return loaded


async def events_until_closed(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    found = []
    async for msg in ws:
        if msg.type is aiohttp.WSMsgType.TEXT:
            found.append(orjson.loads(msg.data))
    return found


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["header"]["name"] for e in events]
