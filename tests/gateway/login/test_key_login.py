"""Key login and sessions: cookie flags, CSRF, fixation, logout, expiry, throttle."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from gateway.keys import LOGIN
from tests.gateway.console.client import Browser, api
from tests.harness import Gateway, gateway_settings, running_gateway


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = gateway_settings(tmp_path, BELLA_LOGIN_SECURE_COOKIE="false")
    async with running_gateway(settings) as gw:
        yield gw


async def test_key_login_sets_a_strict_cookie_and_answers_the_session(gateway: Gateway) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(gateway.url + "/login/key", json={"key": gateway.key}) as response,
    ):
        assert response.status == 200
        body = await response.json()
        cookie = response.headers["Set-Cookie"]
    for flag in ("HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Secure" not in cookie
    assert gateway.key not in cookie
    assert (body["principal"]["kind"], body["principal"]["role"]) == ("key", "all")
    assert len(body["csrf"]) > 30


async def test_the_secure_flag_follows_the_setting(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, BELLA_LOGIN_SECURE_COOKIE="true")
    async with (
        running_gateway(settings) as gw,
        aiohttp.ClientSession() as http,
        http.post(gw.url + "/login/key", json={"key": gw.key}) as response,
    ):
        assert "Secure" in response.headers["Set-Cookie"]


async def test_csrf_is_required_on_every_state_changing_cookie_request(gateway: Gateway) -> None:
    async with Browser(gateway) as browser:
        await browser.key_login(gateway.key)
        status, error = await browser.call("POST", "/console/categories", {"code": "a"}, csrf=False)
        assert (status, error["error"]["code"]) == (403, "csrf_failed")
        headers = {"X-CSRF-Token": "forged-token"}
        status, _ = await browser.call(
            "POST", "/console/categories", {"code": "a"}, csrf=False, headers=headers
        )
        assert status == 403
        status, _ = await browser.call("POST", "/console/apikeys", {"name": "x"}, csrf=False)
        assert status == 403
        status, _ = await browser.call("POST", "/login/logout", csrf=False)
        assert status == 403  # still logged in
        cross = {"Origin": "https://evil.example"}
        status, error = await browser.call(
            "POST", "/console/categories", {"code": "a"}, headers=cross
        )
        assert (status, error["error"]["code"]) == (403, "csrf_failed")
        assert await gateway.store.list_categories() == []
        assert (await browser.call("GET", "/console/categories", csrf=False))[0] == 200  # reads
        status, _ = await browser.call("POST", "/console/categories", {"code": "a"})
        assert status == 201


async def test_a_planted_session_id_never_becomes_a_logged_in_one(gateway: Gateway) -> None:
    name = gateway.app[LOGIN].storage.cookie_name
    async with Browser(gateway) as browser:
        planted = "attacker-chosen-session-id"
        browser.http.cookie_jar.update_cookies({name: planted}, URL(gateway.url))
        await browser.key_login(gateway.key)
        issued = browser.cookie(name)
        assert issued
        assert issued != planted
    async with Browser(gateway) as attacker:
        attacker.http.cookie_jar.update_cookies({name: planted}, URL(gateway.url))
        assert await attacker.refresh_csrf() == 401
        assert (await attacker.call("GET", "/console/models"))[0] == 401


async def test_logout_ends_the_session(gateway: Gateway) -> None:
    async with Browser(gateway) as browser:
        await browser.key_login(gateway.key)
        assert (await browser.call("POST", "/login/logout"))[0] == 204
        assert (await browser.call("GET", "/console/models"))[0] == 401
        assert await browser.refresh_csrf() == 401


async def test_a_key_session_ends_when_the_key_changes(gateway: Gateway) -> None:
    key = await gateway.new_key("console")
    _, me = await api(gateway, "GET", "/v1/apikey/whoami", key)
    async with Browser(gateway) as browser:
        await browser.key_login(key)
        assert (await browser.call("GET", "/console/models"))[0] == 200
        await api(gateway, "POST", f"/console/apikeys/{me['code']}/reset")
        assert (await browser.call("GET", "/console/models"))[0] == 401
    async with Browser(gateway) as browser:
        key2 = await gateway.new_key("console")
        await browser.key_login(key2)
        code2 = (await api(gateway, "GET", "/v1/apikey/whoami", key2))[1]["code"]
        await api(gateway, "PATCH", f"/console/apikeys/{code2}", body={"role": "low"})
        assert (await browser.call("GET", "/console/models"))[0] == 401


async def test_an_idle_session_ends(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, BELLA_LOGIN_IDLE_S="1")
    async with running_gateway(settings) as gw, Browser(gw) as browser:
        await browser.key_login(gw.key)
        await asyncio.sleep(0.6)
        assert (await browser.call("GET", "/console/models"))[0] == 200  # used: renewed
        await asyncio.sleep(0.6)
        assert (await browser.call("GET", "/console/models"))[0] == 200
        await asyncio.sleep(2.2)
        assert (await browser.call("GET", "/console/models"))[0] == 401


async def test_an_old_session_ends_however_busy(tmp_path: Path) -> None:
    base = gateway_settings(tmp_path)
    settings = dataclasses.replace(base, login=dataclasses.replace(base.login, max_age_s=0.3))
    async with running_gateway(settings) as gw, Browser(gw) as browser:
        await browser.key_login(gw.key)
        assert (await browser.call("GET", "/console/models"))[0] == 200
        await asyncio.sleep(0.4)
        assert (await browser.call("GET", "/console/models"))[0] == 401


async def test_wrong_keys_and_login_flooding(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, BELLA_LOGIN_ATTEMPTS_PER_MINUTE="3")
    async with running_gateway(settings) as gw, Browser(gw) as browser:
        status, error = await browser.key_login("sk-wrong")
        assert (status, error["error"]["type"]) == (401, "authentication_error")
        await browser.key_login("sk-wrong")
        await browser.key_login("sk-wrong")
        status, error = await browser.key_login(gw.key)  # even the right key, now
        assert (status, error["error"]["code"]) == (429, "login_rate_limited")
        status, error = await browser.call("POST", "/login/key", {"key": gw.key})
        assert status == 429


async def test_key_login_refuses_cross_site_and_form_posts(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        headers = {"Origin": "https://evil.example"}
        async with http.post(
            gateway.url + "/login/key", json={"key": gateway.key}, headers=headers
        ) as response:
            assert response.status == 403
        async with http.post(gateway.url + "/login/key", data={"key": gateway.key}) as response:
            assert response.status == 400
