"""OAuth 2.0 authorization code with PKCE, and the OIDC bits, as pure functions (no I/O).

The shell in `gateway.login.exchange` sends what these build and feeds back what came.
The id_token is read without checking its signature: it comes straight from the token
endpoint over the back channel we opened ourselves (OpenID Connect Core §3.1.3.7), so its
issuer, audience, expiry and nonce are what remain to check, and they are.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import orjson

from gateway.login.base import DENIED, EMAIL, PROVIDER, STATE, Identity, LoginFailed
from gateway.login.providers import OAuthProvider, domain_allowed

CLOCK_SKEW_S = 120


def pkce_pair() -> tuple[str, str]:
    """A fresh code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    provider: OAuthProvider, redirect_uri: str, *, state: str, verifier: str, nonce: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(provider.scopes),
        "state": state,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    if provider.oidc:
        params["nonce"] = nonce
    separator = "&" if "?" in provider.authorize_url else "?"
    return provider.authorize_url + separator + urlencode(params)


def callback_code(query: dict[str, str]) -> str:
    """The authorization code of a callback, or why there is none."""
    if query.get("error"):
        raise LoginFailed(DENIED, f"the provider answered {query['error']!r}")
    code = query.get("code", "")
    if not code:
        raise LoginFailed(STATE, "the callback carries no code")
    return code


def token_form(
    provider: OAuthProvider, code: str, redirect_uri: str, verifier: str
) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": provider.client_id,
        "client_secret": provider.client_secret,
        "code_verifier": verifier,
    }


def access_token(status: int, body: bytes) -> tuple[str, str]:
    """(access_token, id_token or "") from the token endpoint's answer."""
    data = json_object(body)
    token = data.get("access_token")
    if status != 200 or not isinstance(token, str) or not token:
        reason = data.get("error") or f"HTTP {status}"
        raise LoginFailed(PROVIDER, f"the token endpoint refused the code: {reason}")
    id_token = data.get("id_token")
    return token, id_token if isinstance(id_token, str) else ""


def id_token_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise LoginFailed(PROVIDER, "the id_token is not a JWT")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        return json_object(base64.urlsafe_b64decode(payload))
    except ValueError:
        raise LoginFailed(PROVIDER, "the id_token payload is not base64 JSON") from None


def check_id_token(
    claims: dict[str, Any], provider: OAuthProvider, nonce: str, now: float | None = None
) -> None:
    """Issuer, audience, expiry and nonce, as OIDC Core §3.1.3.7 asks."""
    now = time.time() if now is None else now
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if claims.get("iss", "").rstrip("/") != provider.issuer:
        raise LoginFailed(PROVIDER, "the id_token comes from another issuer")
    if provider.client_id not in audiences:
        raise LoginFailed(PROVIDER, "the id_token is for another client")
    expiry = claims.get("exp")
    if not isinstance(expiry, int | float) or expiry + CLOCK_SKEW_S < now:
        raise LoginFailed(PROVIDER, "the id_token has expired")
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise LoginFailed(STATE, "the id_token's nonce is not this login's")


def oidc_identity(provider: OAuthProvider, info: dict[str, Any], subject: str) -> Identity:
    """The person from the userinfo answer; `subject` is the id_token's `sub`."""
    if subject and str(info.get("sub", "")) != subject:
        raise LoginFailed(PROVIDER, "userinfo describes someone else than the id_token")
    email = str(info.get("email", "")).strip().lower()
    if not email or info.get("email_verified") is False:
        raise LoginFailed(EMAIL, "the provider has no verified email address for you")
    name = info.get("name") or info.get("preferred_username") or ""
    return _allowed(provider, Identity(provider.name, str(info.get("sub", "")), email, str(name)))


def github_identity(provider: OAuthProvider, user: dict[str, Any], emails: list[Any]) -> Identity:
    """The person from GitHub's /user and /user/emails: the primary verified address."""
    verified = [
        e
        for e in emails
        if isinstance(e, dict) and e.get("verified") and isinstance(e.get("email"), str)
    ]
    verified.sort(key=lambda e: not e.get("primary"))
    if not verified or not user.get("id"):
        raise LoginFailed(EMAIL, "GitHub has no verified email address for you")
    email = verified[0]["email"].strip().lower()
    name = user.get("name") or user.get("login") or ""
    return _allowed(provider, Identity(provider.name, str(user["id"]), email, str(name)))


def _allowed(provider: OAuthProvider, identity: Identity) -> Identity:
    if not domain_allowed(identity.email, provider.allowed_domains):
        raise LoginFailed(EMAIL, f"{identity.email} is not in an allowed domain")
    return identity


def discovered(provider: OAuthProvider, body: bytes) -> dict[str, str]:
    """The endpoints an OIDC discovery document names (for what the config left out)."""
    data = json_object(body)
    if data.get("issuer", "").rstrip("/") != provider.issuer:
        raise LoginFailed(PROVIDER, "the discovery document names another issuer")
    names = {
        "authorize_url": "authorization_endpoint",
        "token_url": "token_endpoint",
        "userinfo_url": "userinfo_endpoint",
    }
    found = {ours: data.get(theirs) for ours, theirs in names.items()}
    if not all(isinstance(v, str) and v for v in found.values()):
        raise LoginFailed(PROVIDER, "the discovery document lacks an endpoint")
    return {k: str(v) for k, v in found.items()}


def json_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise LoginFailed(PROVIDER, "the provider answered something else than JSON") from None
    if not isinstance(data, dict):
        raise LoginFailed(PROVIDER, "the provider answered a JSON value, not an object")
    return data
