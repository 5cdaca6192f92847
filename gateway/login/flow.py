"""A login in progress: `state`, PKCE verifier, nonce and where to go after, in a cookie.

The flow cookie is sealed with Fernet (encrypted and authenticated), scoped to /login/,
HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET, which Lax allows),
and lives `FLOW_TTL_S`. Nothing is kept on the server for a login that never finishes; the
callback checks that its `state` is the cookie's, and `Once` makes every state single-use.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass

import orjson
from cryptography.fernet import Fernet, InvalidToken

COOKIE = "bella_login_flow"
PATH = "/login/"
FLOW_TTL_S = 600


@dataclass(frozen=True, slots=True)
class Flow:
    provider: str
    state: str
    verifier: str
    nonce: str
    next: str
    started_at: float


def new_flow(provider: str, next_path: str) -> Flow:
    return Flow(
        provider=provider,
        state=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(48),
        nonce=secrets.token_urlsafe(24),
        next=next_path,
        started_at=time.time(),
    )


def seal(fernet: Fernet, flow: Flow) -> str:
    return fernet.encrypt(orjson.dumps(asdict(flow))).decode("ascii")


def unseal(fernet: Fernet, token: str | None) -> Flow | None:
    """The flow in the cookie, or None when absent, forged or older than `FLOW_TTL_S`."""
    if not token:
        return None
    try:
        data = orjson.loads(fernet.decrypt(token.encode("ascii"), ttl=FLOW_TTL_S))
        return Flow(**data)
    except (InvalidToken, UnicodeEncodeError, orjson.JSONDecodeError, TypeError):
        return None


def matches(flow: Flow | None, provider: str, state: str) -> bool:
    return (
        flow is not None
        and flow.provider == provider
        and bool(state)
        and secrets.compare_digest(flow.state.encode(), state.encode())
    )
