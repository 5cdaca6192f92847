"""SIGTERM with 20 streams open: they finish (or, past the deadline, end with an error event)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from gateway.database import open_configured_store
from gateway.settings import load_settings
from gateway.store.records import UsageRecord
from tests.gateway.observability.procs import Served, init_demo

STREAMS = 20
ASK = [{"role": "user", "content": "hi"}]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def key(data_dir: Path) -> str:
    return init_demo(data_dir)


def serve(tmp_path: Path, deadline_s: float) -> Iterator[Served]:
    served = Served(
        tmp_path,
        BELLA_SERVER_SHUTDOWN_TIMEOUT_S=str(deadline_s),
        BELLA_LOGS_REQUESTS=str(tmp_path / "requests.log"),
    )
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def patient(tmp_path: Path, key: str) -> Iterator[Served]:
    yield from serve(tmp_path, deadline_s=20)


@pytest.fixture
def hasty(tmp_path: Path, key: str) -> Iterator[Served]:
    yield from serve(tmp_path, deadline_s=0.5)


async def open_streams(
    http: aiohttp.ClientSession, served: Served, key: str, tokens: int
) -> list[aiohttp.ClientResponse]:
    headers = {
        "Authorization": f"Bearer {key}",
        "X-Bella-Mock-Interval-Ms": "100",
        "X-Bella-Mock-Tokens": str(tokens),
    }
    body = {"model": "mock-chat", "messages": ASK, "stream": True}
    responses = await asyncio.gather(
        *(
            http.post(served.url + "/v1/chat/completions", json=body, headers=headers)
            for _ in range(STREAMS)
        )
    )
    for response in responses:  # every stream is under way
        assert response.status == 200
        assert (await response.content.readuntil(b"\n\n")).startswith(b"data: ")
    return list(responses)


async def usage(data_dir: Path) -> list[UsageRecord]:
    store = await open_configured_store(
        load_settings(None, {"BELLA_SERVER_DATA_DIR": str(data_dir)})
    )
    try:
        return await store.list_usage(limit=1000)
    finally:
        await store.close()


async def refused(served: Served) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", served.port)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


async def test_sigterm_lets_open_streams_finish(patient: Served, key: str, data_dir: Path) -> None:
    await patient.ready()
    async with aiohttp.ClientSession() as http:
        streams = await open_streams(http, patient, key, tokens=12)
        patient.signal()
        bodies = await asyncio.gather(*(s.read() for s in streams))
        assert await refused(patient)  # no new connections while it drains
    assert all(body.endswith(b"data: [DONE]\n\n") for body in bodies)
    assert await patient.exit_code(timeout_s=15) == 0
    assert "Traceback" not in patient.stderr.read_text()
    records = await usage(data_dir)
    assert len(records) == STREAMS
    assert {(r.status, r.error_code) for r in records} == {(200, "")}
    assert {r.completion_tokens for r in records} == {12}


async def test_past_the_deadline_streams_end_with_an_error_event(
    hasty: Served, key: str, data_dir: Path, tmp_path: Path
) -> None:
    await hasty.ready()
    async with aiohttp.ClientSession() as http:
        streams = await open_streams(http, hasty, key, tokens=300)
        hasty.signal()
        bodies = await asyncio.gather(*(s.read() for s in streams))
    for body in bodies:
        last = body.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
        assert last.startswith(b"data: ")
        assert orjson.loads(last[6:])["error"]["code"] == "gateway_shutdown"
    assert await hasty.exit_code(timeout_s=15) == 0
    assert "Traceback" not in hasty.stderr.read_text(), hasty.stderr.read_text()
    records = await usage(data_dir)
    assert len(records) == STREAMS
    assert {(r.status, r.error_code) for r in records} == {(503, "gateway_shutdown")}
    assert all(0 < r.completion_tokens < 300 for r in records)
    logged = [orjson.loads(line) for line in (tmp_path / "requests.log").read_bytes().splitlines()]
    assert {(line["status"], line["error"]) for line in logged} == {(503, "gateway_shutdown")}
    assert len(logged) == STREAMS
