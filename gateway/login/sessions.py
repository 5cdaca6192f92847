"""Console sessions: who is logged in, starting and ending a session, expiry.

A session holds the principal (`p`: "user" or "key", `c`: its code, `h`: for a key, its
hash, so a reset ends the session), a CSRF token, `login_at` and `seen_at`. It is valid while
- it is younger than `login.max_age_s` (absolute expiry),
- it was used in the last `login.idle_s` (aiohttp-session drops older data; `seen_at` is
  written at most every `TOUCH_S` so that reads stay cheap),
- its user is active, an admin, and has not logged out everywhere since `login_at`
  (`sessions_valid_after`), or its key is active, unchanged and may call /console.
Principals are read from the store on every console request, so a change is seen at once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Literal, TypeGuard

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import Session

from gateway.keys import LOGIN, SETTINGS, STORE
from gateway.login.storage import RedisSessionStorage
from gateway.roles import ROLES
from gateway.store.base import Store
from gateway.store.records import ApiKey, User

SESSION_PATHS = ("/console", "/login")
TOUCH_S = 60.0
ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["user", "key"]
    code: str
    name: str  # what the audit log records: the user's email, or the key's code
    role: str  # the key role whose rank bounds what it may grant ("all" for admins)


SESSION = web.RequestKey[Session]("console_session")
SAVE = web.RequestKey[bool]("console_session_save")


@web.middleware
async def sessions_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load sessions lazily and save changed ones; scoped to `SESSION_PATHS`.

    The API paths never touch a session, so they do not pass through here at all.
    (aiohttp-session's own middleware keeps its state under string request keys, which
    aiohttp 3.14 warns about; this one uses `web.RequestKey`s around the same storages and
    `Session`.)
    """
    response = await handler(request)
    session = request.get(SESSION)
    if session is not None and request.get(SAVE) and isinstance(response, web.Response):
        await request.app[LOGIN].storage.save_session(request, response, session)
    return response


async def get_session(request: web.Request) -> Session:
    session = request.get(SESSION)
    if session is None:
        session = await request.app[LOGIN].storage.load_session(request)
        request[SESSION] = session
    return session


def changed(request: web.Request) -> None:
    """Save the request's session with the response."""
    request[SAVE] = True


def user_principal(user: User) -> Principal:
    return Principal("user", user.code, user.email, "all")


def key_principal(key: ApiKey) -> Principal:
    return Principal("key", key.code, key.code, key.role)


def console_key(key: ApiKey | None) -> TypeGuard[ApiKey]:
    if key is None or key.status != "active":
        return False
    role = ROLES.get(key.role)
    return role is not None and role.allows("/console/apikeys")


def console_user(user: User | None) -> TypeGuard[User]:
    return user is not None and user.status == "active" and user.role == ADMIN


async def current(request: web.Request) -> tuple[Session, Principal] | None:
    """The request's session and principal when it is logged in and still valid."""
    session = await get_session(request)
    kind, login_at = session.get("p"), session.get("login_at")
    if kind is None or not isinstance(login_at, int | float):
        return None
    now = time.time()
    expired = now - login_at > request.app[SETTINGS].login.max_age_s
    principal = None if expired else await _principal(request.app[STORE], session, login_at)
    if principal is None:
        session.invalidate()
        changed(request)
        return None
    touch_s = min(TOUCH_S, request.app[SETTINGS].login.idle_s / 4)
    if now - float(session.get("seen_at", 0)) > touch_s:
        session["seen_at"] = now
        changed(request)
    return session, principal


async def _principal(store: Store, session: Session, login_at: float) -> Principal | None:
    code = str(session.get("c", ""))
    if session.get("p") == "user":
        user = await store.user_by_code(code)
        if not console_user(user) or login_at <= user.sessions_valid_after:
            return None
        return user_principal(user)
    key = await store.apikey_by_code(code)
    if not console_key(key) or key.sha256 != session.get("h"):
        return None
    return key_principal(key)


async def begin(request: web.Request, principal: Principal, key_hash: str = "") -> Session:
    """A brand-new session for `principal`, replacing whatever session the request had.

    The old session's id is dropped (Redis) and a new random one is issued: an id planted
    before the login (session fixation) never carries a logged-in session.
    """
    old = await get_session(request)
    storage = request.app[LOGIN].storage
    if old.identity is not None and isinstance(storage, RedisSessionStorage):
        await storage.discard(str(old.identity))
    session = await storage.new_session()
    request[SESSION] = session
    changed(request)
    now = time.time()
    session.update(
        {
            "p": principal.kind,
            "c": principal.code,
            "h": key_hash,
            "csrf": secrets.token_urlsafe(32),
            "login_at": now,
            "seen_at": now,
        }
    )
    return session


async def end(request: web.Request) -> None:
    """Log this session out: its data is dropped and the cookie deleted."""
    session = await get_session(request)
    session.invalidate()
    changed(request)


def expires_at(session: Session, request: web.Request) -> float:
    """When the session ends at the latest: idle or absolute expiry, whichever comes first."""
    login = request.app[SETTINGS].login
    seen = float(session.get("seen_at", 0))
    return min(seen + login.idle_s, float(session.get("login_at", 0)) + login.max_age_s)
