"""The sans-I/O parts of login, fed values: redirects, PKCE, id_tokens, CAS answers, config."""

from __future__ import annotations

import time
from dataclasses import asdict

import orjson
import pytest
from cryptography.fernet import Fernet

from gateway.login import cas, oauth
from gateway.login.base import LoginFailed
from gateway.login.flow import FLOW_TTL_S, new_flow, seal, unseal
from gateway.login.providers import CasProvider, OAuthProvider, parse_providers
from gateway.login.redirects import safe_next
from gateway.settings import SettingsError
from tests.fakes.oauth_provider import unsigned_jwt


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/console/#/keys", "/console/#/keys"),
        ("/console/?a=1", "/console/?a=1"),
        (None, "/console/"),
        ("", "/console/"),
        ("https://evil.example", "/console/"),
        ("//evil.example", "/console/"),
        ("/\\evil.example", "/console/"),
        ("\\\\evil.example", "/console/"),
        ("javascript:alert(1)", "/console/"),
        ("/x\r\nLocation: //evil", "/console/"),
        ("/x y", "/console/"),
        ("console", "/console/"),
    ],
)
def test_safe_next(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_pkce_s256_matches_rfc7636() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oauth.s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def provider(**extra: object) -> OAuthProvider:
    raw = {"kind": "oidc", "issuer": "https://id.example", "client_id": "c", "client_secret": "s"}
    found = parse_providers({"corp": {**raw, **extra}})["corp"]
    assert isinstance(found, OAuthProvider)
    return found


def test_id_token_checks() -> None:
    p = provider()
    good = {"iss": "https://id.example", "aud": "c", "exp": time.time() + 60, "nonce": "n"}
    oauth.check_id_token(oauth.id_token_claims(unsigned_jwt(good)), p, "n")
    for change in ({"iss": "https://evil"}, {"aud": "other"}, {"exp": 1}, {"nonce": "x"}):
        with pytest.raises(LoginFailed):
            oauth.check_id_token({**good, **change}, p, "n")
    with pytest.raises(LoginFailed):
        oauth.id_token_claims("not-a-jwt")


def test_identities_need_verified_allowed_emails() -> None:
    p = provider(allowed_domains=["example.com"])
    who = oauth.oidc_identity(p, {"sub": "1", "email": "A@Example.com"}, "1")
    assert who.email == "a@example.com"
    for info in (
        {"sub": "1", "email": "a@example.com", "email_verified": False},
        {"sub": "1", "email": "a@other.org"},
        {"sub": "2", "email": "a@example.com"},
        {"sub": "1"},
    ):
        with pytest.raises(LoginFailed):
            oauth.oidc_identity(p, info, "1")


def test_cas_answers() -> None:
    p = parse_providers({"cas": {"kind": "cas", "url": "https://cas.example/cas"}})["cas"]
    assert isinstance(p, CasProvider)
    ok = (
        b'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess>'
        b"<cas:user>bob@corp.example</cas:user></cas:authenticationSuccess></cas:serviceResponse>"
    )
    assert cas.identity(p, 200, ok).email == "bob@corp.example"
    refused = ok.replace(b"authenticationSuccess", b"authenticationFailure")
    for status, body in ((200, refused), (500, ok), (200, b"<oops")):
        with pytest.raises(LoginFailed):
            cas.identity(p, status, body)
    assert cas.login_url(p, "https://gw/cb?state=1") == (
        "https://cas.example/cas/login?service=https%3A%2F%2Fgw%2Fcb%3Fstate%3D1"
    )


def test_provider_config_errors_name_the_provider() -> None:
    for raw in (
        {"x": {"kind": "saml"}},
        {"key": {"kind": "github", "client_id": "a", "client_secret": "b"}},
        {"gh": {"kind": "github", "client_id": "a"}},
        {"o": {"kind": "oidc", "client_id": "a", "client_secret": "b"}},
        {"c": {"kind": "cas", "url": "ftp://x"}},
    ):
        with pytest.raises(SettingsError):
            parse_providers(raw)
    github = parse_providers({"github": {"client_id": "a", "client_secret": "s3cr3t-value"}})[
        "github"
    ]
    assert isinstance(github, OAuthProvider)
    assert github.authorize_url == "https://github.com/login/oauth/authorize"
    assert "s3cr3t" not in repr(github)


def test_flow_cookie_is_sealed_and_expires() -> None:
    fernet = Fernet(Fernet.generate_key())
    flow = new_flow("corp", "/console/")
    assert unseal(fernet, seal(fernet, flow)) == flow
    assert unseal(Fernet(Fernet.generate_key()), seal(fernet, flow)) is None
    assert unseal(fernet, "garbage") is None
    stale = fernet.encrypt_at_time(orjson.dumps(asdict(flow)), int(time.time()) - FLOW_TTL_S - 5)
    assert unseal(fernet, stale.decode()) is None
    assert flow.state != new_flow("corp", "/").state
