"""Server-Timing, X-Bella-Channel and the echoed trace id on every response."""

from __future__ import annotations

import re

import aiohttp

from tests.harness import Gateway

CHAT = "/v1/chat/completions"
ASK = [{"role": "user", "content": "hi"}]
TIMING = re.compile(
    r"^gateway;dur=(\d+\.\d{3}), queue;dur=(\d+\.\d{3}), upstream;dur=(\d+\.\d{3})$"
)


def spans(response: aiohttp.ClientResponse) -> tuple[float, float, float]:
    match = TIMING.match(response.headers["Server-Timing"])
    assert match, response.headers["Server-Timing"]
    gateway, queue, upstream = (float(v) for v in match.groups())
    return gateway, queue, upstream


async def test_a_completion_says_where_its_time_went(gateway: Gateway) -> None:
    headers = {
        "Authorization": f"Bearer {gateway.key}",
        "X-Bella-Mock-TTFT-Ms": "150",
        "X-Bella-Trace-Id": "trace-abc",
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            gateway.url + CHAT, json={"model": "mock-chat", "messages": ASK}, headers=headers
        ) as response,
    ):
        assert response.status == 200
    gateway_ms, queue_ms, upstream_ms = spans(response)
    assert upstream_ms >= 150
    assert gateway_ms < 150
    assert queue_ms >= 0
    assert response.headers["X-Bella-Channel"] == "ch-mock-chat"
    assert response.headers["X-Bella-Trace-Id"] == "trace-abc"


async def test_a_stream_carries_them_in_its_headers(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {gateway.key}"}
    body = {"model": "mock-chat", "messages": ASK, "stream": True}
    async with (
        aiohttp.ClientSession() as http,
        http.post(gateway.url + CHAT, json=body, headers=headers) as response,
    ):
        assert response.content_type == "text/event-stream"
        spans(response)
        assert response.headers["X-Bella-Channel"] == "ch-mock-chat"
        await response.read()


async def test_errors_carry_them_too(gateway: Gateway) -> None:
    too_long = "t" * 200
    async with aiohttp.ClientSession() as http:
        async with http.get(
            gateway.url + "/v1/models", headers={"X-Bella-Trace-Id": too_long}
        ) as unauthorized:
            assert unauthorized.status == 401
        spans(unauthorized)
        assert unauthorized.headers["X-Bella-Channel"] == ""
        assert "X-Bella-Trace-Id" not in unauthorized.headers
        unknown = {"model": "no-such-model", "messages": ASK}
        async with http.post(
            gateway.url + CHAT, json=unknown, headers={"Authorization": f"Bearer {gateway.key}"}
        ) as missing:
            assert missing.status == 404
        spans(missing)
        assert missing.headers["X-Bella-Channel"] == ""
        async with http.get(gateway.url + "/nowhere") as nowhere:
            assert nowhere.status == 404
        spans(nowhere)
