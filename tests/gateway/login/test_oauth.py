"""OAuth 2.0 / OIDC login against fake providers on loopback: GitHub, Google-style, OIDC."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from yarl import URL

from gateway.login.flow import COOKIE
from gateway.login.users import grant
from tests.fakes.oauth_provider import FakeOAuth
from tests.gateway.console.client import Browser, api
from tests.gateway.login.conftest import LoginGateway


async def test_oidc_login_with_discovery_pkce_and_nonce(
    login_gateway: LoginGateway, oidc: FakeOAuth
) -> None:
    async with login_gateway({"corp": oidc.settings(label="Corp SSO")}) as gw:
        await grant(gw.store, "Ann@Example.com")
        async with Browser(gw) as browser:
            _, listed = await browser.call("GET", "/login/providers")
            assert listed["providers"] == [{"name": "corp", "label": "Corp SSO", "kind": "oidc"}]
            last = await browser.follow("/login/corp/start?next=/console/%23/channels")
            assert (last.url.path, last.status) == ("/console/", 200)
            assert last.history[-1].headers["Location"] == "/console/#/channels"
            assert await browser.refresh_csrf() == 200
            _, me = await browser.call("GET", "/login/session")
            assert me["principal"] == {"kind": "user", "name": "ann@example.com", "role": "all"}
            assert (await browser.call("POST", "/console/categories", {"code": "x"}))[0] == 201
    [asked] = oidc.authorizations
    assert asked["code_challenge_method"] == "S256"
    assert asked["nonce"]
    assert asked["state"]
    assert asked["scope"] == "openid email profile"
    assert oidc.token_errors == []


async def test_github_login_takes_the_primary_verified_address(
    login_gateway: LoginGateway, github: FakeOAuth
) -> None:
    async with login_gateway({"github": github.settings()}) as gw:
        await grant(gw.store, "ann@example.com")
        async with Browser(gw) as browser:
            await browser.follow("/login/github/start")
            assert await browser.refresh_csrf() == 200
        user = await gw.store.user_by_email("ann@example.com")
        assert user is not None
        assert (user.provider, user.subject, user.name) == ("github", "1001", "ann")


async def test_google_kind_with_overridden_urls(
    login_gateway: LoginGateway, oidc: FakeOAuth
) -> None:
    google = oidc.settings(
        kind="google",
        issuer=oidc.url,
        authorize_url=f"{oidc.url}/authorize",
        token_url=f"{oidc.url}/token",
        userinfo_url=f"{oidc.url}/userinfo",
    )
    async with login_gateway({"google": google}) as gw:
        await grant(gw.store, "ann@example.com")
        async with Browser(gw) as browser:
            await browser.follow("/login/google/start")
            assert await browser.refresh_csrf() == 200


async def test_a_person_without_access_is_recorded_but_not_let_in(
    login_gateway: LoginGateway, oidc: FakeOAuth
) -> None:
    async with login_gateway({"corp": oidc.settings()}) as gw:
        async with Browser(gw) as browser:
            last = await browser.follow("/login/corp/start")
            assert parse_qs(last.url.query_string)["login_error"] == ["not_admin"]
            assert await browser.refresh_csrf() == 401
        user = await gw.store.user_by_email("ann@example.com")
        assert user is not None
        assert user.role == "none"
        status, granted = await api(gw, "POST", "/console/users", body={"email": "ann@example.com"})
        assert (status, granted["role"]) == (200, "admin")
        async with Browser(gw) as browser:
            await browser.follow("/login/corp/start")
            assert await browser.refresh_csrf() == 200


async def test_a_replayed_state_is_refused(login_gateway: LoginGateway, oidc: FakeOAuth) -> None:
    async with login_gateway({"corp": oidc.settings()}) as gw:
        await grant(gw.store, "ann@example.com")
        async with Browser(gw) as browser:
            start = await browser.http.get(gw.url + "/login/corp/start", allow_redirects=False)
            to_provider = start.headers["Location"]
            start.release()
            flow_cookie = browser.cookie(COOKIE)
            assert flow_cookie
            async with browser.http.get(to_provider, allow_redirects=False) as back:
                callback = back.headers["Location"]
            async with browser.http.get(callback, allow_redirects=False) as first:
                assert first.headers["Location"] == "/console/"
            await browser.refresh_csrf()
            assert (await browser.call("POST", "/login/logout"))[0] == 204
            # Replay: the same state with its flow cookie put back, and a fresh valid code.
            browser.http.cookie_jar.update_cookies(
                {COOKIE: flow_cookie}, URL(gw.url + "/login/corp/callback")
            )
            async with browser.http.get(to_provider, allow_redirects=False) as again:
                replayed = again.headers["Location"]
            async with browser.http.get(replayed, allow_redirects=False) as replay:
                location = replay.headers["Location"]
            assert parse_qs(urlsplit(location).query)["login_error"] == ["state"]
            assert await browser.refresh_csrf() == 401
        assert len(oidc.codes) == 2
        assert sum(c["used"] for c in oidc.codes.values()) == 1


async def test_a_state_from_another_browser_is_refused(
    login_gateway: LoginGateway, oidc: FakeOAuth
) -> None:
    async with login_gateway({"corp": oidc.settings()}) as gw:
        await grant(gw.store, "ann@example.com")
        async with Browser(gw) as attacker, Browser(gw) as victim:
            start = await attacker.http.get(gw.url + "/login/corp/start", allow_redirects=False)
            to_provider = start.headers["Location"]
            start.release()
            async with attacker.http.get(to_provider, allow_redirects=False) as back:
                callback = back.headers["Location"]
            # The victim is lured to the attacker's callback (login CSRF): no flow cookie.
            async with victim.http.get(callback, allow_redirects=False) as response:
                assert "login_error=state" in response.headers["Location"]
            assert await victim.refresh_csrf() == 401


async def test_open_redirects_after_login_are_refused(
    login_gateway: LoginGateway, oidc: FakeOAuth
) -> None:
    async with login_gateway({"corp": oidc.settings()}) as gw:
        await grant(gw.store, "ann@example.com")
        for target in (
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "/console/\r\nSet-Cookie: x=1",
        ):
            async with Browser(gw) as browser:
                start = await browser.http.get(
                    gw.url + "/login/corp/start", params={"next": target}, allow_redirects=False
                )
                start.release()
                async with browser.http.get(start.headers["Location"], allow_redirects=False) as b:
                    callback = b.headers["Location"]
                async with browser.http.get(callback, allow_redirects=False) as done:
                    assert done.headers["Location"] == "/console/", target


async def test_declines_wrong_nonces_and_unknown_providers(
    login_gateway: LoginGateway, oidc: FakeOAuth
) -> None:
    async with login_gateway({"corp": oidc.settings()}) as gw:
        await grant(gw.store, "ann@example.com")
        oidc.deny = True
        async with Browser(gw) as browser:
            last = await browser.follow("/login/corp/start")
            assert "login_error=denied" in str(last.url)
        oidc.deny, oidc.wrong_nonce = False, True
        async with Browser(gw) as browser:
            last = await browser.follow("/login/corp/start")
            assert "login_error=state" in str(last.url)
            assert await browser.refresh_csrf() == 401
        oidc.wrong_nonce = False
        oidc.person.verified = False
        async with Browser(gw) as browser:
            last = await browser.follow("/login/corp/start")
            assert "login_error=email" in str(last.url)
        async with Browser(gw) as browser:
            status, _ = await browser.call("GET", "/login/nope/start")
            assert status == 404


async def test_logout_everywhere_ends_every_session_of_the_user(
    login_gateway: LoginGateway, oidc: FakeOAuth
) -> None:
    async with login_gateway({"corp": oidc.settings()}) as gw:
        await grant(gw.store, "ann@example.com")
        async with Browser(gw) as laptop, Browser(gw) as phone:
            for device in (laptop, phone):
                await device.follow("/login/corp/start")
                assert await device.refresh_csrf() == 200
            assert (await phone.call("POST", "/login/logout-all"))[0] == 204
            assert (await laptop.call("GET", "/console/models"))[0] == 401
            assert (await phone.call("GET", "/console/models"))[0] == 401
            await laptop.follow("/login/corp/start")
            assert await laptop.refresh_csrf() == 200  # a new login works again
        _, audit = await api(gw, "GET", "/console/audit?entity=session")
        assert [e["action"] for e in audit["data"]][:2] == ["login", "logout_all"]
