"""CAS service-ticket login (CAS protocol 2/3 `serviceValidate`), as pure functions.

The service URL carries the login's `state`, so the ticket is bound to this browser's login
and validated for exactly the URL it was issued to. The answer is XML from the configured
CAS server (trusted, over the back channel); expat refuses entity expansion bombs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from gateway.login.base import EMAIL, PROVIDER, STATE, Identity, LoginFailed
from gateway.login.providers import CasProvider, domain_allowed

NS = "{http://www.yale.edu/tp/cas}"


def login_url(provider: CasProvider, service: str) -> str:
    return f"{provider.url}/login?{urlencode({'service': service})}"


def validate_url(provider: CasProvider, service: str, ticket: str) -> str:
    query = urlencode({"service": service, "ticket": ticket})
    return f"{provider.url}{provider.validate_path}?{query}"


def ticket_of(query: dict[str, str]) -> str:
    ticket = query.get("ticket", "")
    if not ticket.startswith("ST-"):
        raise LoginFailed(STATE, "the callback carries no service ticket")
    return ticket


def identity(provider: CasProvider, status: int, body: bytes) -> Identity:
    """The person a `serviceValidate` answer names, or why the ticket was refused."""
    if status != 200:
        raise LoginFailed(PROVIDER, f"CAS answered HTTP {status}")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise LoginFailed(PROVIDER, "CAS answered something else than XML") from None
    success = root.find(f"{NS}authenticationSuccess")
    if success is None:
        failure = root.find(f"{NS}authenticationFailure")
        code = failure.get("code", "") if failure is not None else ""
        raise LoginFailed(STATE, f"CAS refused the ticket {code}".strip())
    user = (success.findtext(f"{NS}user") or "").strip()
    if not user:
        raise LoginFailed(PROVIDER, "CAS named no user")
    email = _email(provider, user, success)
    if not domain_allowed(email, provider.allowed_domains):
        raise LoginFailed(EMAIL, f"{email} is not in an allowed domain")
    return Identity(provider.name, user, email, user)


def _email(provider: CasProvider, user: str, success: ET.Element) -> str:
    attribute = success.findtext(f"{NS}attributes/{NS}{provider.email_attribute}")
    if attribute and "@" in attribute:
        return attribute.strip().lower()
    if "@" in user:
        return user.lower()
    if provider.email_domain:
        return f"{user}@{provider.email_domain}".lower()
    raise LoginFailed(EMAIL, "CAS gave no email address for you")
