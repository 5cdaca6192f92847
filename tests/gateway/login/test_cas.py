"""CAS login against a fake CAS server on loopback: serviceValidate, state, single use."""

from __future__ import annotations

from yarl import URL

from gateway.login.flow import COOKIE
from gateway.login.users import grant
from tests.fakes.cas_server import FakeCas
from tests.gateway.console.client import Browser
from tests.gateway.login.conftest import LoginGateway


async def test_cas_login_validates_the_ticket_for_this_service(
    login_gateway: LoginGateway, cas_server: FakeCas
) -> None:
    async with login_gateway({"cas": {"kind": "cas", "url": cas_server.url}}) as gw:
        base = gw.url
        await grant(gw.store, "carol@corp.example")
        async with Browser(gw) as browser:
            last = await browser.follow("/login/cas/start?next=/console/%23/keys")
            assert last.status == 200
            assert last.history[-1].headers["Location"] == "/console/#/keys"
            assert await browser.refresh_csrf() == 200
            _, me = await browser.call("GET", "/login/session")
            assert me["principal"]["name"] == "carol@corp.example"
    [validation] = cas_server.validations
    assert validation["service"].startswith(base + "/login/cas/callback?state=")


async def test_cas_tickets_are_single_use_and_bound_to_the_browser(
    login_gateway: LoginGateway, cas_server: FakeCas
) -> None:
    async with login_gateway({"cas": {"kind": "cas", "url": cas_server.url}}) as gw:
        await grant(gw.store, "carol@corp.example")
        async with Browser(gw) as browser, Browser(gw) as other:
            start = await browser.http.get(gw.url + "/login/cas/start", allow_redirects=False)
            to_cas = start.headers["Location"]
            start.release()
            flow = browser.cookie(COOKIE)
            async with browser.http.get(to_cas, allow_redirects=False) as back:
                callback = back.headers["Location"]
            async with other.http.get(callback, allow_redirects=False) as stolen:
                assert "login_error=state" in stolen.headers["Location"]
            async with browser.http.get(callback, allow_redirects=False) as done:
                assert done.headers["Location"] == "/console/"
            other.http.cookie_jar.update_cookies({COOKIE: flow or ""}, URL(gw.url + "/login/"))
            async with other.http.get(callback, allow_redirects=False) as replay:
                assert "login_error=state" in replay.headers["Location"]
            assert await other.refresh_csrf() == 401


async def test_a_bare_cas_user_gets_the_configured_domain(
    login_gateway: LoginGateway, cas_server: FakeCas
) -> None:
    cas_server.mail = ""
    provider = {"kind": "cas", "url": cas_server.url, "email_domain": "corp.example"}
    async with login_gateway({"sso": provider}) as gw:
        await grant(gw.store, "carol@corp.example")
        async with Browser(gw) as browser:
            await browser.follow("/login/sso/start")
            assert await browser.refresh_csrf() == 200
