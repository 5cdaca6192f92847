"""The login routes: providers, OAuth/OIDC and CAS round trips, key login, session, logout.

Browser-facing steps (start, callback) answer with redirects; a failed login goes back to
the console page with `?login_error=<code>` from a fixed vocabulary (`gateway.login.base`),
never with text from the request. JSON steps (key, session, logout) answer OpenAI-shaped.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from aiohttp import web
from aiohttp_session import Session

from gateway.apikeys import hash_secret
from gateway.console.audit import record
from gateway.errors import AuthenticationFailed, InvalidRequest, NotFound, RateLimited
from gateway.handlers.apikeys import json_response
from gateway.handlers.body import json_body
from gateway.keys import HTTP, LOGIN, SETTINGS, STORE
from gateway.login import cas, exchange, oauth, sessions, users
from gateway.login.base import DISABLED, NOT_ADMIN, RATE_LIMITED, STATE, Identity, LoginFailed
from gateway.login.csrf import check, check_origin
from gateway.login.flow import COOKIE, FLOW_TTL_S, PATH, Flow, matches, new_flow, seal, unseal
from gateway.login.providers import CasProvider, OAuthProvider, Provider
from gateway.login.redirects import DEFAULT, external_base, safe_next
from gateway.routes import add_route

log = logging.getLogger(__name__)


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def _provider(request: web.Request) -> Provider:
    provider = request.app[LOGIN].providers.get(request.match_info["provider"])
    if provider is None:
        raise NotFound("No such login provider.", code="provider_not_found")
    return provider


def _callback_url(request: web.Request, provider: Provider, state: str = "") -> str:
    url = f"{external_base(request)}/login/{provider.name}/callback"
    return f"{url}?{urlencode({'state': state})}" if state else url


async def _resolved(request: web.Request, provider: OAuthProvider) -> OAuthProvider:
    """The provider with its OIDC discovery done (once per process)."""
    login = request.app[LOGIN]
    known = login.discovered.get(provider.name)
    if known is None:
        known = await exchange.discover(request.app[HTTP], provider)
        login.discovered[provider.name] = known
    return known


async def providers(request: web.Request) -> web.Response:
    listed = [
        {"name": p.name, "label": p.label, "kind": p.kind}
        for p in request.app[LOGIN].providers.values()
    ]
    key_login = request.app[SETTINGS].login.key_login
    return json_response({"providers": listed, "key_login": key_login})


async def start(request: web.Request) -> web.Response:
    provider = _provider(request)
    flow = new_flow(provider.name, safe_next(request.query.get("next")))
    try:
        location = await _authorize_location(request, provider, flow)
    except LoginFailed as exc:
        return _failed(request, provider, exc)
    response = redirect(location)
    login = request.app[LOGIN]
    response.set_cookie(
        COOKIE,
        seal(login.fernet, flow),
        max_age=FLOW_TTL_S,
        path=PATH,
        httponly=True,
        samesite="Lax",
        secure=request.app[SETTINGS].login.secure_cookie,
    )
    return response


async def _authorize_location(request: web.Request, provider: Provider, flow: Flow) -> str:
    if isinstance(provider, CasProvider):
        return cas.login_url(provider, _callback_url(request, provider, flow.state))
    resolved = await _resolved(request, provider)
    return oauth.authorize_url(
        resolved,
        _callback_url(request, provider),
        state=flow.state,
        verifier=flow.verifier,
        nonce=flow.nonce,
    )


async def callback(request: web.Request) -> web.Response:
    provider = _provider(request)
    try:
        identity, flow = await _verified(request, provider)
        user = await users.logged_in(request.app[STORE], identity)
        if user.status != "active":
            raise LoginFailed(DISABLED, f"{user.email} is deactivated")
        if not sessions.console_user(user):
            raise LoginFailed(NOT_ADMIN, f"{user.email} has no console access")
    except LoginFailed as exc:
        return _failed(request, provider, exc)
    await sessions.begin(request, sessions.user_principal(user))
    await record(request, user.email, "session", user.code, "login", None, {"via": provider.name})
    response = redirect(flow.next)
    response.del_cookie(COOKIE, path=PATH)
    return response


async def _verified(request: web.Request, provider: Provider) -> tuple[Identity, Flow]:
    """The identity the callback proves, after its state, single use and the provider."""
    login = request.app[LOGIN]
    try:
        await login.throttle.check(request)
    except RateLimited:
        raise LoginFailed(RATE_LIMITED, "too many login attempts") from None
    flow = unseal(login.fernet, request.cookies.get(COOKIE))
    state = request.query.get("state", "")
    if flow is None or not matches(flow, provider.name, state):
        raise LoginFailed(STATE, "the state is not this browser's login")
    if not await login.once.first_use(state):
        raise LoginFailed(STATE, "the state was used before")
    query = dict(request.query)
    http = request.app[HTTP]
    if isinstance(provider, CasProvider):
        service = _callback_url(request, provider, state)
        return await exchange.cas_identity(http, provider, service, cas.ticket_of(query)), flow
    code = oauth.callback_code(query)
    resolved = await _resolved(request, provider)
    redirect_uri = _callback_url(request, provider)
    return await exchange.oauth_identity(http, resolved, code, redirect_uri, flow), flow


def _failed(request: web.Request, provider: Provider, exc: LoginFailed) -> web.Response:
    log.info("console login via %s failed (%s): %s", provider.name, exc.code, exc.detail)
    response = redirect(f"{DEFAULT}?{urlencode({'login_error': exc.code})}")
    response.del_cookie(COOKIE, path=PATH)
    return response


async def key_login(request: web.Request) -> web.Response:
    """POST /login/key {"key": "sk-…"}: a session for a console-capable key (bootstrap)."""
    if not request.app[SETTINGS].login.key_login:
        raise NotFound("Key login is turned off.", code="key_login_disabled")
    check_origin(request)
    if request.content_type != "application/json":
        raise InvalidRequest("Send the key as JSON.", code="invalid_content_type")
    await request.app[LOGIN].throttle.check(request)
    secret = (await json_body(request)).get("key")
    if not isinstance(secret, str) or not secret.strip():
        raise InvalidRequest("'key' must be an API key.", param="key")
    key = await request.app[STORE].apikey_by_hash(hash_secret(secret.strip()))
    if not sessions.console_key(key):
        raise AuthenticationFailed("This key cannot log in to the console.", code="login_failed")
    session = await sessions.begin(request, sessions.key_principal(key), key.sha256)
    await record(request, key.code, "session", key.code, "login", None, {"via": "key"})
    return _session_view(request, session, sessions.key_principal(key))


def _session_view(
    request: web.Request, session: Session, principal: sessions.Principal
) -> web.Response:
    view = {
        "principal": {"kind": principal.kind, "name": principal.name, "role": principal.role},
        "csrf": session["csrf"],
        "expires_at": sessions.expires_at(session, request),
    }
    response = json_response(view)
    response.headers["Cache-Control"] = "no-store"
    return response


async def session_info(request: web.Request) -> web.Response:
    found = await sessions.current(request)
    if found is None:
        raise AuthenticationFailed("You are not logged in.", code="login_required")
    return _session_view(request, *found)


async def logout(request: web.Request) -> web.Response:
    found = await sessions.current(request)
    if found is not None:
        session, principal = found
        check(request, session)
        await record(request, principal.name, "session", principal.code, "logout", None, None)
        await sessions.end(request)
    return web.Response(status=204)


async def logout_all(request: web.Request) -> web.Response:
    """End every session of the logged-in user, on every device."""
    found = await sessions.current(request)
    if found is None:
        raise AuthenticationFailed("You are not logged in.", code="login_required")
    session, principal = found
    check(request, session)
    if principal.kind != "user":
        raise InvalidRequest("A key's sessions end when the key is reset or deactivated.")
    user = await users.get_user(request.app[STORE], principal.code)
    await users.end_sessions(request.app[STORE], user)
    await record(request, principal.name, "session", principal.code, "logout_all", None, None)
    await sessions.end(request)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", "/login/providers", providers)
    add_route(app, "GET", "/login/session", session_info)
    add_route(app, "POST", "/login/key", key_login)
    add_route(app, "POST", "/login/logout", logout)
    add_route(app, "POST", "/login/logout-all", logout_all)
    add_route(app, "GET", "/login/{provider}/start", start)
    add_route(app, "GET", "/login/{provider}/callback", callback)
