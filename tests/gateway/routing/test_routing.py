"""Weights, priority tiers, failover and cooldowns, through an in-process gateway."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from gateway.router import RoutingState
from tests.gateway.routing.conftest import StartFake, channel, chat, gateway, router_of


def cooldown_left(state: RoutingState, code: str) -> float:
    [found] = [ch for ch in state.channels if ch.code == code]
    return found.cooldown_s


async def test_weights_1_2_7_over_1000_sequential_requests(
    tmp_path: Path, start_fake: StartFake, http: aiohttp.ClientSession
) -> None:
    fake = await start_fake()
    channels = [channel(fake.url, f"ch-w{w}", weight=w) for w in (1, 2, 7)]
    async with gateway(tmp_path, *channels) as gw:
        served: Counter[str] = Counter()
        for _ in range(1000):
            reply = await chat(http, gw.url, gw.key)
            assert reply.status == 200
            served[reply.channel] += 1
    for weight in (1, 2, 7):
        assert abs(served[f"ch-w{weight}"] / 1000 - weight / 10) <= 0.02, served


async def test_standby_serves_only_when_the_weighted_channel_cannot(
    tmp_path: Path, start_fake: StartFake, http: aiohttp.ClientSession
) -> None:
    fake = await start_fake()
    channels = [channel(fake.url, "ch-main", weight=1), channel(fake.url, "ch-standby", weight=0)]
    async with gateway(tmp_path, *channels) as gw:
        replies = [await chat(http, gw.url, gw.key) for _ in range(5)]
        assert {r.channel for r in replies} == {"ch-main"}
        router_of(gw).health.cool("ch-main", 30, router_of(gw).health.clock())
        assert (await chat(http, gw.url, gw.key)).channel == "ch-standby"


async def test_low_tier_only_while_high_is_cooled_or_full_past_max_wait(
    tmp_path: Path, start_fake: StartFake, http: aiohttp.ClientSession
) -> None:
    slow = await start_fake(chunks=8, interval_s=0.1)
    other = await start_fake()
    channels = [
        channel(slow.url, "ch-high", priority="high", max_concurrency=1),
        channel(other.url, "ch-low", priority="low"),
    ]
    async with gateway(tmp_path, *channels) as gw:
        replies = [await chat(http, gw.url, gw.key) for _ in range(3)]
        assert {r.channel for r in replies} == {"ch-high"}

        holder = asyncio.create_task(chat(http, gw.url, gw.key, stream=True))
        await asyncio.sleep(0.2)  # the stream holds ch-high's only slot
        waited = await chat(http, gw.url, gw.key, max_wait=0.3)
        assert waited.channel == "ch-low"
        assert waited.elapsed >= 0.3
        assert (await holder).channel == "ch-high"

        router = router_of(gw)
        router.health.cool("ch-high", 0.4, router.health.clock())
        assert (await chat(http, gw.url, gw.key)).channel == "ch-low"
        await asyncio.sleep(0.45)
        assert (await chat(http, gw.url, gw.key)).channel == "ch-high"


async def test_a_full_high_tier_is_waited_for_within_max_wait(
    tmp_path: Path, start_fake: StartFake, http: aiohttp.ClientSession
) -> None:
    slow = await start_fake(chunks=3, interval_s=0.1)
    channels = [
        channel(slow.url, "ch-high", priority="high", max_concurrency=1),
        channel(slow.url, "ch-low", priority="low"),
    ]
    async with gateway(tmp_path, *channels) as gw:
        holder = asyncio.create_task(chat(http, gw.url, gw.key, stream=True))
        await asyncio.sleep(0.1)
        waited = await chat(http, gw.url, gw.key, stream=True, max_wait=5)
        assert (await holder).channel == "ch-high"
        assert waited.channel == "ch-high"  # the slot freed well within the max wait
        assert waited.elapsed < 2


async def test_queue_timeout_is_429_with_retry_after(
    tmp_path: Path, start_fake: StartFake, http: aiohttp.ClientSession
) -> None:
    slow = await start_fake(chunks=10, interval_s=0.1)
    async with gateway(tmp_path, channel(slow.url, "ch-one", max_concurrency=1)) as gw:
        holder = asyncio.create_task(chat(http, gw.url, gw.key, stream=True))
        await asyncio.sleep(0.1)
        timed_out = await chat(http, gw.url, gw.key, max_wait=0.2)
        assert (timed_out.status, timed_out.code) == (429, "queue_timeout")
        assert timed_out.headers["Retry-After"] == "1"
        assert 0.2 <= timed_out.elapsed < 2.0
        assert (await holder).status == 200
        assert router_of(gw).state().queues == {}


async def test_a_full_queue_answers_429_at_once(
    tmp_path: Path, start_fake: StartFake, http: aiohttp.ClientSession
) -> None:
    slow = await start_fake(chunks=10, interval_s=0.1)
    one = channel(slow.url, "ch-one", max_concurrency=1)
    async with gateway(tmp_path, one, BELLA_QUEUE_DEPTH="1") as gw:
        holder = asyncio.create_task(chat(http, gw.url, gw.key, stream=True))
        await asyncio.sleep(0.1)
        queued = asyncio.create_task(chat(http, gw.url, gw.key, max_wait=5))
        await asyncio.sleep(0.1)
        full = await chat(http, gw.url, gw.key, max_wait=5)
        assert (full.status, full.code) == (429, "queue_full")
        assert full.elapsed < 1.0  # at once, long before the holder's 1 s stream ends
        assert (await holder).status == 200
        assert (await queued).status == 200


async def test_bad_max_wait_header_is_400(
    tmp_path: Path, start_fake: StartFake, http: aiohttp.ClientSession
) -> None:
    fake = await start_fake()
    async with gateway(tmp_path, channel(fake.url, "ch-one")) as gw:
        for bad in ("soon", "-1", "nan"):
            headers = {"Authorization": f"Bearer {gw.key}", "X-Bella-Max-Wait": bad}
            body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}
            async with http.post(
                f"{gw.url}/v1/chat/completions", json=body, headers=headers
            ) as response:
                assert response.status == 400


async def test_fallback_models_in_order(
    tmp_path: Path, start_fake: StartFake, http: aiohttp.ClientSession
) -> None:
    fake = await start_fake()
    catalog_channels = [channel(fake.url, "ch-test")]
    async with gateway(tmp_path, *catalog_channels) as gw:
        reply = await chat(http, gw.url, gw.key, model="no-such-model,gpt-test")
        assert (reply.status, reply.channel) == (200, "ch-test")
        missing = await chat(http, gw.url, gw.key, model="nope,also-nope")
        assert (missing.status, missing.code) == (404, "model_not_found")


@pytest.mark.parametrize(
    ("failure", "cooldown"),
    [("refused", 10.0), ("429", 7.0), ("500", 0.0)],
)
async def test_failover_to_the_second_channel_and_cooldown(
    tmp_path: Path,
    start_fake: StartFake,
    http: aiohttp.ClientSession,
    unused_tcp_port: int,
    failure: str,
    cooldown: float,
) -> None:
    good = await start_fake()
    if failure == "refused":
        first_url = f"http://127.0.0.1:{unused_tcp_port}/v1"
    else:
        bad = await start_fake(fail_with=int(failure), retry_after="7")
        first_url = bad.url
    channels = [
        channel(first_url, "ch-first", priority="high"),
        channel(good.url, "ch-second", priority="normal"),
    ]
    async with gateway(tmp_path, *channels) as gw:
        reply = await chat(http, gw.url, gw.key, stream=True)
        assert (reply.status, reply.channel) == (200, "ch-second")
        left = cooldown_left(router_of(gw).state(), "ch-first")
        assert cooldown - 1.0 <= left <= cooldown
        [record] = await gw.usage()
        assert (record.status, record.channel_code) == (200, "ch-second")


async def test_error_rate_cools_the_channel_for_the_configured_time(
    tmp_path: Path, start_fake: StartFake, http: aiohttp.ClientSession
) -> None:
    bad = await start_fake(fail_with=500)
    good = await start_fake()
    channels = [
        channel(bad.url, "ch-first", priority="high"),
        channel(good.url, "ch-second", priority="normal"),
    ]
    async with gateway(tmp_path, *channels, BELLA_UPSTREAM_COOLDOWN_S="12") as gw:
        for _ in range(11):
            assert (await chat(http, gw.url, gw.key)).channel == "ch-second"
        assert len(bad.requests) == 10  # cooled after 10 of 10 failed: the 11th skipped it
        left = cooldown_left(router_of(gw).state(), "ch-first")
        assert 10.5 <= left <= 12.0


async def test_non_retryable_errors_do_not_fail_over(
    tmp_path: Path, start_fake: StartFake, http: aiohttp.ClientSession
) -> None:
    bad = await start_fake(fail_with=400)
    good = await start_fake()
    channels = [
        channel(bad.url, "ch-first", priority="high"),
        channel(good.url, "ch-second", priority="normal"),
    ]
    async with gateway(tmp_path, *channels) as gw:
        reply = await chat(http, gw.url, gw.key)
        assert reply.status == 400
        assert good.requests == []
