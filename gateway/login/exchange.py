"""The back channel to the providers: token, userinfo, emails, discovery, ticket validation.

Every call has a short timeout; client failures become `LoginFailed(PROVIDER)`, so a slow or
broken provider ends one login with a clear message and nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import orjson

from gateway.login import cas, oauth
from gateway.login.base import PROVIDER, Identity, LoginFailed
from gateway.login.flow import Flow
from gateway.login.providers import CasProvider, OAuthProvider

TIMEOUT = aiohttp.ClientTimeout(total=10)
ACCEPT_JSON = {"Accept": "application/json", "User-Agent": "bella-gateway"}


@contextmanager
def _client_errors() -> Iterator[None]:
    try:
        yield
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise LoginFailed(PROVIDER, f"the provider could not be reached: {exc!r}") from exc


async def _get(http: aiohttp.ClientSession, url: str, token: str = "") -> tuple[int, bytes]:
    headers = dict(ACCEPT_JSON)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with _client_errors():
        async with http.get(url, headers=headers, timeout=TIMEOUT) as response:
            return response.status, await response.read()


async def discover(http: aiohttp.ClientSession, provider: OAuthProvider) -> OAuthProvider:
    """The provider with the endpoints its OIDC discovery document names filled in."""
    if provider.complete:
        return provider
    url = f"{provider.issuer}/.well-known/openid-configuration"
    status, body = await _get(http, url)
    if status != 200:
        raise LoginFailed(PROVIDER, f"OIDC discovery answered HTTP {status}")
    found = oauth.discovered(provider, body)
    return dataclasses.replace(
        provider,
        authorize_url=provider.authorize_url or found["authorize_url"],
        token_url=provider.token_url or found["token_url"],
        userinfo_url=provider.userinfo_url or found["userinfo_url"],
    )


async def oauth_identity(
    http: aiohttp.ClientSession,
    provider: OAuthProvider,
    code: str,
    redirect_uri: str,
    flow: Flow,
) -> Identity:
    """Redeem the code (with the PKCE verifier) and ask who it belongs to."""
    form = oauth.token_form(provider, code, redirect_uri, flow.verifier)
    with _client_errors():
        async with http.post(
            provider.token_url, data=form, headers=ACCEPT_JSON, timeout=TIMEOUT
        ) as response:
            status, body = response.status, await response.read()
    token, id_token = oauth.access_token(status, body)
    if provider.kind == "github":
        return await _github(http, provider, token)
    subject = ""
    if id_token:
        claims = oauth.id_token_claims(id_token)
        oauth.check_id_token(claims, provider, flow.nonce)
        subject = str(claims.get("sub", ""))
    elif provider.oidc:
        raise LoginFailed(PROVIDER, "the token endpoint sent no id_token")
    status, body = await _get(http, provider.userinfo_url, token)
    if status != 200:
        raise LoginFailed(PROVIDER, f"userinfo answered HTTP {status}")
    return oauth.oidc_identity(provider, oauth.json_object(body), subject)


async def _github(http: aiohttp.ClientSession, provider: OAuthProvider, token: str) -> Identity:
    status, body = await _get(http, provider.userinfo_url, token)
    if status != 200:
        raise LoginFailed(PROVIDER, f"GitHub /user answered HTTP {status}")
    user = oauth.json_object(body)
    status, body = await _get(http, provider.emails_url, token)
    try:
        emails = orjson.loads(body) if status == 200 else []
    except orjson.JSONDecodeError:
        emails = []
    return oauth.github_identity(provider, user, emails if isinstance(emails, list) else [])


async def cas_identity(
    http: aiohttp.ClientSession, provider: CasProvider, service: str, ticket: str
) -> Identity:
    url = cas.validate_url(provider, service, ticket)
    with _client_errors():
        async with http.get(url, timeout=TIMEOUT) as response:
            status, body = response.status, await response.read()
    return cas.identity(provider, status, body)
