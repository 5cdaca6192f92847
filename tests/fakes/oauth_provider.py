"""A fake OAuth 2.0 / OpenID Connect provider, GitHub-style or OIDC, on loopback.

It speaks the protocol as a real provider does and checks what one would: the client id and
secret, that a code is redeemed once, by the client it was issued to, with the same
redirect_uri, and with the PKCE verifier whose S256 challenge came with the authorization.
The person "at the keyboard" approves at once (or declines when `deny` is set).

- OIDC (`kind="oidc"`): discovery, /authorize, /token (with an unsigned id_token carrying
  iss, aud, sub, exp and the nonce), /userinfo.
- GitHub (`kind="github"`): /login/oauth/authorize, /login/oauth/access_token, /user and
  /user/emails, with the address list GitHub gives.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.loopback import LoopbackServer

CLIENT_ID = "bella-client"
CLIENT_SECRET = "bella-client-secret-123456"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_jwt(claims: dict[str, Any]) -> str:
    return f"{_b64(orjson.dumps({'alg': 'none'}))}.{_b64(orjson.dumps(claims))}.x"


@dataclass
class Person:
    email: str = "ann@example.com"
    name: str = "Ann Admin"
    subject: str = "1001"
    verified: bool = True


@dataclass
class FakeOAuth(LoopbackServer):
    kind: str = "oidc"  # or "github"
    person: Person = field(default_factory=Person)
    deny: bool = False
    wrong_nonce: bool = False
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorizations: list[dict[str, str]] = field(default_factory=list)
    token_errors: list[str] = field(default_factory=list)
    server: TestServer | None = None

    def settings(self, **extra: Any) -> dict[str, Any]:
        """The gateway's `login.providers` entry for this fake."""
        base = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        if self.kind == "github":
            urls = {
                "kind": "github",
                "authorize_url": f"{self.url}/login/oauth/authorize",
                "token_url": f"{self.url}/login/oauth/access_token",
                "userinfo_url": f"{self.url}/user",
                "emails_url": f"{self.url}/user/emails",
            }
        else:
            urls = {"kind": "oidc", "issuer": self.url}
        return {**base, **urls, **extra}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_get("/login/oauth/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_post("/login/oauth/access_token", self._token)
        app.router.add_get("/userinfo", self._userinfo)
        app.router.add_get("/user", self._github_user)
        app.router.add_get("/user/emails", self._github_emails)

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "userinfo_endpoint": f"{self.url}/userinfo",
            }
        )

    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        self.authorizations.append(dict(q))
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return web.Response(status=400, text="bad client or response_type")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return web.Response(status=400, text="PKCE required")
        target = q["redirect_uri"]
        if self.deny:
            params = {"error": "access_denied", "state": q.get("state", "")}
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = {**q, "used": False}
            params = {"code": code, "state": q.get("state", "")}
        return web.Response(status=302, headers={"Location": f"{target}?{urlencode(params)}"})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = self.codes.get(str(form.get("code", "")))
        problem = self._token_problem(form, grant)
        if problem or grant is None:
            self.token_errors.append(problem)
            return web.json_response({"error": "invalid_grant", "detail": problem}, status=400)
        grant["used"] = True
        answer: dict[str, Any] = {"access_token": "at-" + secrets.token_hex(8)}
        answer["token_type"] = "bearer"
        if self.kind == "oidc":
            nonce = "forged" if self.wrong_nonce else grant.get("nonce", "")
            claims: dict[str, Any] = {"iss": self.url, "aud": CLIENT_ID}
            claims["sub"] = self.person.subject
            claims.update({"exp": time.time() + 300, "nonce": nonce, "email": self.person.email})
            answer["id_token"] = unsigned_jwt(claims)
        return web.json_response(answer)

    def _token_problem(self, form: Any, grant: dict[str, Any] | None) -> str:
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return "client authentication failed"
        if grant is None or grant["used"]:
            return "unknown or used code"
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return "redirect_uri differs"
        verifier = str(form.get("code_verifier", ""))
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant["code_challenge"]:
            return "PKCE verifier does not match"
        return ""

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "").startswith("Bearer at-")

    async def _userinfo(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401)
        p = self.person
        return web.json_response(
            {"sub": p.subject, "email": p.email, "email_verified": p.verified, "name": p.name}
        )

    async def _github_user(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401)
        return web.json_response({"id": int(self.person.subject), "login": "ann", "name": None})

    async def _github_emails(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401)
        return web.json_response(
            [
                {"email": "old@example.org", "primary": False, "verified": True},
                {"email": self.person.email, "primary": True, "verified": self.person.verified},
            ]
        )
