"""/metrics after real traffic: promtool accepts it and the numbers are the traffic sent."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from gateway.keys import DRAIN
from tests.gateway.observability.scrape import promtool_check, scrape, value
from tests.harness import Gateway

CHAT = "/v1/chat/completions"
ASK = [{"role": "user", "content": "hello there"}]


def headers(gw: Gateway, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {gw.key}", **extra}


async def chat(
    http: aiohttp.ClientSession, gw: Gateway, model: str = "mock-chat", **extra: str
) -> dict[str, Any]:
    body = {"model": model, "messages": ASK}
    async with http.post(gw.url + CHAT, json=body, headers=headers(gw, **extra)) as response:
        assert response.status == 200, await response.text()
        reply: dict[str, Any] = await response.json()
        return reply


async def stream(
    http: aiohttp.ClientSession, gw: Gateway, model: str = "mock-chat", **extra: str
) -> bytes:
    body = {"model": model, "messages": ASK, "stream": True}
    async with http.post(gw.url + CHAT, json=body, headers=headers(gw, **extra)) as response:
        assert response.status == 200, await response.text()
        return await response.read()


async def settled(gw: Gateway) -> None:
    """Until every request has left the gateway (a stream's client may finish first)."""
    for _ in range(200):
        if not gw.app[DRAIN].inflight:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("requests still in flight")


async def test_scrape_after_traffic_passes_promtool_and_counts_it(
    gateway: Gateway, promtool: str
) -> None:
    labels = {"endpoint": CHAT, "model": "mock-chat", "channel": "ch-mock-chat"}
    before = await scrape(gateway.url)
    async with aiohttp.ClientSession() as http:
        replies = [await chat(http, gateway) for _ in range(7)]
        streams = [await stream(http, gateway, **{"X-Bella-Mock-Tokens": "4"}) for _ in range(3)]
        async with http.get(gateway.url + "/v1/models") as unauthorized:
            assert unauthorized.status == 401
    await settled(gateway)
    after = await scrape(gateway.url)
    promtool_check(promtool, after)

    def delta(name: str, **match: str) -> float:
        return value(after, name, **match) - value(before, name, **match)

    assert delta("bella_requests_total", status_class="2xx", **labels) == 10
    assert delta("bella_requests_total", endpoint="/v1/models", status_class="4xx") == 1
    assert delta("bella_request_duration_seconds_count", endpoint=CHAT, model="mock-chat") == 10
    assert delta("bella_gateway_overhead_seconds_count", endpoint=CHAT) == 10
    assert delta("bella_upstream_duration_seconds_count", channel="ch-mock-chat") == 10
    assert delta("bella_time_to_first_token_seconds_count", model="mock-chat") == 3
    output = sum(r["usage"]["completion_tokens"] for r in replies) + 3 * 4
    assert delta("bella_tokens_total", model="mock-chat", type="output") == output
    assert delta("bella_cost_total", model="mock-chat") > 0
    assert value(after, "bella_requests_in_flight") == 0
    assert value(after, "bella_active_streams") == 0
    assert all(s.endswith(b"data: [DONE]\n\n") for s in streams)


async def test_no_key_or_secret_is_a_label(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        await chat(http, gateway)
    await settled(gateway)
    text = await scrape(gateway.url)
    assert "ak-" not in text
    assert "sk-" not in text


async def test_open_streams_are_counted_while_they_run(gateway: Gateway) -> None:
    slow = {"X-Bella-Mock-Interval-Ms": "50", "X-Bella-Mock-Tokens": "20"}
    async with aiohttp.ClientSession() as http:
        running = [asyncio.create_task(stream(http, gateway, **slow)) for _ in range(3)]
        text = await _wait_for(gateway, "bella_active_streams", 3, kind="sse", endpoint=CHAT)
        assert value(text, "bella_requests_in_flight") == 3
        await asyncio.gather(*running)
    await settled(gateway)
    assert value(await scrape(gateway.url), "bella_active_streams") == 0


async def test_queue_depth_and_slots_rise_while_requests_wait(
    one_slot: Gateway, promtool: str
) -> None:
    slow = {"X-Bella-Mock-Interval-Ms": "40", "X-Bella-Mock-Tokens": "15"}
    channel = {"model": "mock-one", "channel": "ch-one"}
    async with aiohttp.ClientSession() as http:
        running = [
            asyncio.create_task(stream(http, one_slot, "mock-one", **slow)) for _ in range(3)
        ]
        text = await _wait_for(one_slot, "bella_queue_depth", 2, model="mock-one")
        assert value(text, "bella_channel_slots_in_use", **channel) == 1
        assert value(text, "bella_channel_slots_limit", **channel) == 1
        assert value(text, "bella_channel_healthy", **channel) == 1
        promtool_check(promtool, text)
        await asyncio.gather(*running)
    await settled(one_slot)
    text = await scrape(one_slot.url)
    assert value(text, "bella_queue_depth", model="mock-one") == 0
    assert value(text, "bella_channel_slots_in_use", **channel) == 0
    assert value(text, "bella_requests_total", model="mock-one", status_class="2xx") == 3
    # Two waited for a stream of 15 × 40 ms each; the queue wait of all three is measured.
    assert value(text, "bella_queue_wait_seconds_count", model="mock-one") == 3
    assert value(text, "bella_queue_wait_seconds_sum", model="mock-one") >= 0.5


async def test_queue_timeouts_count_as_rate_limit_rejections(one_slot: Gateway) -> None:
    slow = {"X-Bella-Mock-Interval-Ms": "40", "X-Bella-Mock-Tokens": "15"}
    body = {"model": "mock-one", "messages": ASK}
    async with aiohttp.ClientSession() as http:
        holder = asyncio.create_task(stream(http, one_slot, "mock-one", **slow))
        await _wait_for(one_slot, "bella_channel_slots_in_use", 1, channel="ch-one")
        for _ in range(2):
            async with http.post(
                one_slot.url + CHAT,
                json=body,
                headers=headers(one_slot, **{"X-Bella-Max-Wait": "0"}),
            ) as rejected:
                assert rejected.status == 429
                assert (await rejected.json())["error"]["code"] == "queue_timeout"
        await holder
    await settled(one_slot)
    text = await scrape(one_slot.url)
    assert value(text, "bella_ratelimit_rejections_total", reason="queue_timeout") == 2
    assert value(text, "bella_requests_total", model="mock-one", status_class="4xx") == 2


async def _wait_for(gw: Gateway, name: str, expected: float, **labels: str) -> str:
    for _ in range(200):
        text = await scrape(gw.url)
        if value(text, name, **labels) == expected:
            return text
        await asyncio.sleep(0.01)
    raise AssertionError(f"{name}{labels} never reached {expected}")
