"""GET /v1/realtime (WebSocket): the OpenAI Realtime relay against a fake upstream."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest

from gateway.keys import ROUTER
from tests.fakes.realtime_upstream import FakeRealtime
from tests.gateway.endpoints.helpers import usage_of, ws_url
from tests.harness import Gateway

PATH = "/v1/realtime"


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    loaded: dict[str, Any] = orjson.loads(msg.data)
    return loaded


async def wait_for(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_relay_both_ways_and_bill_response_done(
    openai_gw: Gateway, realtime_upstream: FakeRealtime
) -> None:
    headers = {"Authorization": f"Bearer {openai_gw.key}"}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ws_url(openai_gw, f"{PATH}?model=o-realtime"), headers=headers) as ws,
    ):
        assert (await receive(ws))["type"] == "session.created"
        assert openai_gw.app[ROUTER].slots.held("ch-o-realtime") == 1
        await ws.send_str(orjson.dumps({"type": "response.create", "x": 1}).decode())
        kinds = [(await receive(ws))["type"] for _ in range(3)]
        assert kinds == ["response.created", "response.output_text.delta", "response.done"]
    assert realtime_upstream.received == [{"type": "response.create", "x": 1}]
    await wait_for(lambda: realtime_upstream.closed_by_client == 1)
    await wait_for(lambda: openai_gw.app[ROUTER].slots.held("ch-o-realtime") == 0)
    [record] = await usage_of(openai_gw, PATH)
    assert (record.status, record.prompt_tokens, record.completion_tokens) == (200, 10, 20)
    assert record.cached_tokens == 4
    assert record.cost == Decimal("0.048")  # (6 x 1 + 4 x 0.5 + 20 x 2) / 1000
    assert realtime_upstream.queries == [{"model": "up-o-realtime"}]


async def test_browser_subprotocol_key(openai_gw: Gateway, realtime_upstream: FakeRealtime) -> None:
    protocols = ("realtime", f"openai-insecure-api-key.{openai_gw.key}", "openai-beta.realtime-v1")
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ws_url(openai_gw, f"{PATH}?model=o-realtime"), protocols=protocols) as ws,
    ):
        assert ws.protocol == "realtime"
        assert (await receive(ws))["type"] == "session.created"
    assert realtime_upstream.headers[0]["OpenAI-Beta"] == "realtime=v1"
    assert openai_gw.key not in str(realtime_upstream.headers)


async def test_upstream_close_reaches_the_client_with_its_reason(
    openai_gw: Gateway, realtime_upstream: FakeRealtime
) -> None:
    headers = {"Authorization": f"Bearer {openai_gw.key}"}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(ws_url(openai_gw, f"{PATH}?model=o-realtime"), headers=headers) as ws,
    ):
        await receive(ws)
        await ws.send_str('{"type": "test.close"}')
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (4000, "upstream closed: bye")
    [record] = await usage_of(openai_gw, PATH)
    assert (record.status, record.error_code) == (502, "upstream_closed")
    await wait_for(lambda: openai_gw.app[ROUTER].slots.held("ch-o-realtime") == 0)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk-wrong"}])
async def test_no_or_bad_key_is_401_before_the_upgrade(
    openai_gw: Gateway, headers: dict[str, str]
) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await http.ws_connect(ws_url(openai_gw, f"{PATH}?model=o-realtime"), headers=headers)
    assert caught.value.status == 401
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await http.ws_connect(
                ws_url(openai_gw, f"{PATH}?model=o-realtime"),
                protocols=("realtime", "openai-insecure-api-key.sk-wrong"),
            )
    assert caught.value.status == 401
