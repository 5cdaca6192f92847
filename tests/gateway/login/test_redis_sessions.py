"""Sessions in Redis: the cookie is an id, logout deletes the session, the throttle is shared."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from gateway.keys import LOGIN, REDIS
from gateway.login.storage import PREFIX, RedisSessionStorage
from tests.gateway.console.client import Browser
from tests.harness import gateway_settings, running_gateway

pytestmark = pytest.mark.redis


async def test_sessions_live_in_redis_and_logout_kills_stolen_copies(
    tmp_path: Path, redis_clean: str
) -> None:
    settings = gateway_settings(tmp_path, BELLA_REDIS_URL=redis_clean)
    async with running_gateway(settings) as gw:
        storage = gw.app[LOGIN].storage
        assert isinstance(storage, RedisSessionStorage)
        async with Browser(gw) as browser, Browser(gw) as thief:
            await browser.key_login(gw.key)
            sid = browser.cookie(storage.cookie_name)
            assert sid
            assert len(sid) >= 40
            thief.http.cookie_jar.update_cookies({storage.cookie_name: sid}, URL(gw.url))
            assert await thief.refresh_csrf() == 200
            assert (await browser.call("POST", "/login/logout"))[0] == 204
            assert await thief.refresh_csrf() == 401
        async with (
            aiohttp.ClientSession() as http,
            http.post(gw.url + "/login/key", json={"key": gw.key}) as response,
        ):
            sid = response.cookies[storage.cookie_name].value
        redis = gw.app[REDIS]
        assert redis is not None
        ttl = await redis.ttl(PREFIX + sid)
        assert 0 < ttl <= int(settings.login.idle_s)


async def test_the_login_throttle_counts_across_processes(tmp_path: Path, redis_clean: str) -> None:
    settings = gateway_settings(
        tmp_path, BELLA_REDIS_URL=redis_clean, BELLA_LOGIN_ATTEMPTS_PER_MINUTE="2"
    )
    async with (
        running_gateway(settings) as one,
        running_gateway(settings) as two,
        Browser(one) as a,
        Browser(two) as b,
    ):
        assert (await a.key_login("sk-wrong"))[0] == 401
        assert (await b.key_login("sk-wrong"))[0] == 401
        assert (await a.key_login(one.key))[0] == 429
        assert (await b.key_login(two.key))[0] == 429
