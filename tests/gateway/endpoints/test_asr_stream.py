"""GET /v1/audio/asr/stream (WebSocket): NLS events, bad input, slots, backpressure."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.declare import DEMO_CATALOG
from gateway.keys import ROUTER
from tests.fakes.audio import pcm_frame
from tests.fakes.realtime_upstream import FakeRealtime
from tests.gateway.endpoints.asr_client import (
    PATH,
    command,
    event,
    events_until_closed,
    names,
    session,
    start,
    stop,
)
from tests.gateway.endpoints.helpers import usage_of, ws_url
from tests.harness import Gateway, gateway_settings, running_gateway

FAST = {"X-Bella-Mock-Interval-Ms": "10"}


def by_sentence(events: list[dict[str, Any]]) -> dict[int, list[str]]:
    sentences: dict[int, list[str]] = {}
    for e in events:
        index = e["payload"].get("index")
        if index is not None:
            sentences.setdefault(index, []).append(e["header"]["name"])
    return sentences


async def test_full_session_event_order_and_billing(demo: Gateway) -> None:
    async with session(demo, **FAST) as ws:
        await ws.send_str(start())
        started = await event(ws)
        assert started["header"]["name"] == "TranscriptionStarted"
        assert (started["header"]["task_id"], started["header"]["status"]) == ("task-1", 20000000)
        for _ in range(150):  # 3 s of 20 ms frames
            await ws.send_bytes(pcm_frame())
        await asyncio.sleep(0.1)
        await ws.send_str(stop())
        events = await events_until_closed(ws)
        assert ws.close_code == 1000
    assert names(events)[-1] == "TranscriptionCompleted"
    for steps in by_sentence(events).values():
        assert steps[0] == "SentenceBegin"
        assert steps[-1] == "SentenceEnd"
        assert set(steps[1:-1]) <= {"TranscriptionResultChanged"}
    ends = [e for e in events if e["header"]["name"] == "SentenceEnd"]
    assert ends
    assert all(e["payload"]["result"] for e in ends)
    [record] = await usage_of(demo, PATH)
    assert (record.status, record.channel_code) == (200, "ch-mock-asr")
    assert record.cost == Decimal("0.0003")  # 3 s at 0.0001


async def test_ping_pong_before_and_after_start(demo: Gateway) -> None:
    async with session(demo) as ws:
        await ws.send_str("ping")
        assert (await ws.receive(timeout=5)).data == "pong"
        await ws.send_str(start())
        assert (await event(ws))["header"]["name"] == "TranscriptionStarted"
        await ws.send_str("ping")
        assert (await ws.receive(timeout=5)).data == "pong"
        await ws.send_str(stop())
        assert names(await events_until_closed(ws))[-1] == "TranscriptionCompleted"


async def test_audio_before_start_fails_the_task(demo: Gateway) -> None:
    async with session(demo) as ws:
        await ws.send_bytes(pcm_frame())
        failed = await event(ws)
        await events_until_closed(ws)
    assert failed["header"]["name"] == "TaskFailed"
    assert failed["header"]["status"] == 40000002
    [record] = await usage_of(demo, PATH)
    assert (record.status, record.error_code) == (400, "invalid_message")


@pytest.mark.parametrize(
    "message",
    ["not json", command("Dance"), command("StartTranscription", format="mp9")],
)
async def test_invalid_messages_before_start(demo: Gateway, message: str) -> None:
    async with session(demo) as ws:
        await ws.send_str(message)
        failed = await event(ws)
        assert await events_until_closed(ws) == []
    assert (failed["header"]["name"], failed["header"]["status"]) == ("TaskFailed", 40000002)


async def test_invalid_message_mid_session_closes_cleanly(demo: Gateway) -> None:
    async with session(demo) as ws:
        await ws.send_str(start())
        await event(ws)
        await ws.send_str("{broken")
        events = await events_until_closed(ws)
        assert ws.close_code == 1008
    assert names(events)[-1] == "TaskFailed"
    [record] = await usage_of(demo, PATH)
    assert record.status == 400


async def handshake_status(gw: Gateway, path: str, **headers: str) -> int:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await http.ws_connect(ws_url(gw, path), headers=headers)
    return caught.value.status


async def test_refused_before_the_upgrade(demo: Gateway) -> None:
    assert await handshake_status(demo, f"{PATH}?model=mock-asr") == 401
    bad = {"Authorization": "Bearer sk-nope"}
    assert await handshake_status(demo, f"{PATH}?model=mock-asr", **bad) == 401
    good = {"Authorization": f"Bearer {demo.key}"}
    assert await handshake_status(demo, PATH, **good) == 400
    assert await handshake_status(demo, f"{PATH}?model=nope", **good) == 404
    assert await handshake_status(demo, f"{PATH}?model=mock-chat", **good) == 404


def limited_catalog(**options: Any) -> dict[str, Any]:
    channels = [
        {**c, "max_concurrency": 1, "options": options} if c["model"] == "mock-asr" else c
        for c in DEMO_CATALOG["channels"]
    ]
    return {**DEMO_CATALOG, "channels": channels}


async def test_slot_held_for_the_session_and_freed_on_abrupt_disconnect(tmp_path: Path) -> None:
    async with running_gateway(gateway_settings(tmp_path, "", limited_catalog())) as gw:
        slots = gw.app[ROUTER].slots
        async with session(gw) as ws:
            await ws.send_str(start())
            await event(ws)
            assert slots.held("ch-mock-asr") == 1
            busy = {"Authorization": f"Bearer {gw.key}", "X-Bella-Max-Wait": "0"}
            assert await handshake_status(gw, f"{PATH}?model=mock-asr", **busy) == 429
            await ws.send_bytes(pcm_frame())
            transport = ws._response.connection.transport  # type: ignore[union-attr]
            assert transport is not None
            transport.abort()  # no close frame: the client just vanishes
        for _ in range(200):
            if slots.held("ch-mock-asr") == 0:
                break
            await asyncio.sleep(0.01)
        assert slots.held("ch-mock-asr") == 0
        [record] = [r for r in await usage_of(gw, PATH, 2) if r.status != 429]
        assert (record.status, record.error_code) == (499, "client_closed")
        async with session(gw) as ws:  # the slot is free again
            await ws.send_str(start())
            assert (await event(ws))["header"]["name"] == "TranscriptionStarted"


async def test_a_slow_upstream_fails_the_session_instead_of_buffering(demo: Gateway) -> None:
    async with session(demo, **{"X-Bella-Mock-Recv-Delay-Ms": "200"}) as ws:
        await ws.send_str(start())
        await event(ws)
        for _ in range(400):
            await ws.send_bytes(pcm_frame())
        events = await events_until_closed(ws)
    failed = events[-1]["header"]
    assert (failed["name"], failed["status"]) == ("TaskFailed", 50000002)
    assert "not keeping up" in failed["status_message"]
    [record] = await usage_of(demo, PATH)
    assert (record.status, record.error_code) == (503, "asr_backlog_exceeded")


async def test_failover_to_the_next_channel_before_started(tmp_path: Path) -> None:
    broken = {
        "code": "ch-asr-broken",
        "model": "mock-asr",
        "protocol": "mock",
        "url": "mock://broken",
        "priority": "high",
        "options": {"status": 503},
    }
    catalog = {**DEMO_CATALOG, "channels": [*DEMO_CATALOG["channels"], broken]}
    async with running_gateway(gateway_settings(tmp_path, "", catalog)) as gw:
        async with session(gw) as ws:
            await ws.send_str(start())
            assert (await event(ws))["header"]["name"] == "TranscriptionStarted"
            await ws.send_str(stop())
            await events_until_closed(ws)
        [record] = await usage_of(gw, PATH)
        assert (record.status, record.channel_code) == (200, "ch-mock-asr")


async def test_openai_realtime_transcription(
    openai_gw: Gateway, realtime_upstream: FakeRealtime
) -> None:
    async with session(openai_gw, model="o-asr-stream") as ws:
        await ws.send_str(start())
        assert (await event(ws))["header"]["name"] == "TranscriptionStarted"
        for _ in range(40):  # 800 ms: one sentence cut by the fake's VAD, then 300 ms more
            await ws.send_bytes(pcm_frame())
        first = [await event(ws) for _ in range(4)]
        await ws.send_str(stop())
        rest = await events_until_closed(ws)
    assert names(first) == [
        "SentenceBegin",
        "TranscriptionResultChanged",
        "TranscriptionResultChanged",
        "SentenceEnd",
    ]
    assert [e["payload"]["result"] for e in first[1:]] == ["hello ", "hello world", "hello world"]
    assert names(rest) == [
        "SentenceBegin",
        "TranscriptionResultChanged",
        "TranscriptionResultChanged",
        "SentenceEnd",
        "TranscriptionCompleted",
    ]
    update = realtime_upstream.received[0]
    assert update["type"] == "transcription_session.update"
    assert update["session"]["input_audio_transcription"]["model"] == "up-o-asr-stream"
    assert realtime_upstream.received[-1] == {"type": "input_audio_buffer.commit"}
    assert abs(realtime_upstream.audio_bytes - 24000 * 2 * 0.8) < 16  # resampled to 24 kHz
    assert realtime_upstream.headers[0]["OpenAI-Beta"] == "realtime=v1"
    [record] = await usage_of(openai_gw, PATH)
    assert (record.status, record.cost) == (200, Decimal("0.4"))  # 0.8 s at 0.5


async def test_openai_session_refused_is_task_failed(
    openai_gw: Gateway, realtime_upstream: FakeRealtime
) -> None:
    realtime_upstream.refuse_update = True
    async with session(openai_gw, model="o-asr-stream") as ws:
        await ws.send_str(start())
        failed = await event(ws)
        await events_until_closed(ws)
    assert failed["header"]["name"] == "TaskFailed"
    assert "bad session" in failed["header"]["status_message"]
    for _ in range(100):
        if realtime_upstream.open_sockets == 0:
            break
        await asyncio.sleep(0.01)
    assert realtime_upstream.open_sockets == 0
