"""Login providers from `login.providers`: GitHub, Google, any OIDC provider, CAS.

    login:
      providers:
        github: {kind: github, client_id: …, client_secret: …}
        google: {kind: google, client_id: …, client_secret: …}
        corp:   {kind: oidc, issuer: https://sso.corp.example, client_id: …, client_secret: …}
        cas:    {kind: cas, url: https://cas.corp.example/cas}

Every URL has a default for GitHub and Google and may be overridden (GitHub Enterprise, tests);
a generic OIDC provider reads what is missing from `<issuer>/.well-known/openid-configuration`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.settings import SettingsError

OAuthKind = Literal["github", "google", "oidc"]
KINDS = ("github", "google", "oidc", "cas")
RESERVED = frozenset({"key", "session", "logout", "logout-all", "providers"})

_GITHUB: dict[str, Any] = {
    "authorize_url": "https://github.com/login/oauth/authorize",
    "token_url": "https://github.com/login/oauth/access_token",
    "userinfo_url": "https://api.github.com/user",
    "emails_url": "https://api.github.com/user/emails",
    "scopes": ["read:user", "user:email"],
    "label": "GitHub",
}
_GOOGLE: dict[str, Any] = {
    "issuer": "https://accounts.google.com",
    "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_url": "https://oauth2.googleapis.com/token",
    "userinfo_url": "https://openidconnect.googleapis.com/v1/userinfo",
    "label": "Google",
}
_OIDC_SCOPES = ["openid", "email", "profile"]


@dataclass(frozen=True, slots=True)
class OAuthProvider:
    name: str
    kind: OAuthKind
    label: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]
    authorize_url: str = ""
    token_url: str = ""
    userinfo_url: str = ""
    issuer: str = ""  # OIDC: the id_token's `iss` must equal it
    emails_url: str = ""  # GitHub: where the verified addresses are
    allowed_domains: tuple[str, ...] = ()  # empty: any verified address

    @property
    def oidc(self) -> bool:
        return self.kind != "github"

    @property
    def complete(self) -> bool:
        return bool(self.authorize_url and self.token_url and self.userinfo_url)


@dataclass(frozen=True, slots=True)
class CasProvider:
    name: str
    label: str
    url: str  # the CAS base: <url>/login, <url>/serviceValidate
    validate_path: str = "/serviceValidate"
    email_attribute: str = "mail"
    email_domain: str = ""  # appended to a bare user name that has no email attribute
    allowed_domains: tuple[str, ...] = ()
    kind: Literal["cas"] = "cas"


Provider = OAuthProvider | CasProvider


def parse_providers(raw: dict[str, Any]) -> dict[str, Provider]:
    """Every configured provider by name; `SettingsError` names the first bad one."""
    return {name: _provider(str(name), entry) for name, entry in raw.items()}


def _provider(name: str, entry: Any) -> Provider:
    where = f"login.providers.{name}"
    if name in RESERVED or not name.replace("-", "").replace("_", "").isalnum():
        raise SettingsError(f"{where}: choose another name (letters, digits, - and _)")
    if not isinstance(entry, dict):
        raise SettingsError(f"{where}: must be a mapping")
    kind = entry.get("kind", name)
    if kind not in KINDS:
        raise SettingsError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if kind == "cas":
        return _cas(name, entry, where)
    return _oauth(name, kind, entry, where)


def _oauth(name: str, kind: OAuthKind, entry: dict[str, Any], where: str) -> OAuthProvider:
    defaults: dict[str, Any] = {"github": _GITHUB, "google": _GOOGLE}.get(kind, {})
    merged = {**defaults, **entry}
    for required in ("client_id", "client_secret"):
        if not merged.get(required):
            raise SettingsError(f"{where}: {required} is required")
    if kind == "oidc" and not merged.get("issuer"):
        raise SettingsError(f"{where}: an OIDC provider needs its issuer")
    scopes = merged.get("scopes") or (_OIDC_SCOPES if kind != "github" else [])
    return OAuthProvider(
        name=name,
        kind=kind,
        label=str(merged.get("label") or name),
        client_id=str(merged["client_id"]),
        client_secret=str(merged["client_secret"]),
        scopes=tuple(str(s) for s in scopes),
        authorize_url=str(merged.get("authorize_url", "")),
        token_url=str(merged.get("token_url", "")),
        userinfo_url=str(merged.get("userinfo_url", "")),
        issuer=str(merged.get("issuer", "")).rstrip("/"),
        emails_url=str(merged.get("emails_url", "")),
        allowed_domains=_domains(merged),
    )


def _cas(name: str, entry: dict[str, Any], where: str) -> CasProvider:
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise SettingsError(f"{where}: url must be the CAS server's http(s) base URL")
    return CasProvider(
        name=name,
        label=str(entry.get("label") or "CAS"),
        url=url.rstrip("/"),
        validate_path=str(entry.get("validate_path", "/serviceValidate")),
        email_attribute=str(entry.get("email_attribute", "mail")),
        email_domain=str(entry.get("email_domain", "")),
        allowed_domains=_domains(entry),
    )


def _domains(entry: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(d).lower().lstrip("@") for d in entry.get("allowed_domains") or ())


def domain_allowed(email: str, allowed: tuple[str, ...]) -> bool:
    return not allowed or email.rpartition("@")[2] in allowed
