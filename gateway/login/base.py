"""What every login method produces, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    """A person as a provider vouched for them."""

    provider: str  # the configured provider name
    subject: str  # their stable id there
    email: str  # verified, lower case
    name: str = ""


class LoginFailed(Exception):
    """A login that cannot go on; `code` is shown to the person (a fixed vocabulary)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail


# The codes a failed login reports to the console page (which maps them to messages).
STATE = "state"  # missing, expired, replayed or foreign `state`
PROVIDER = "provider"  # the provider refused or answered nonsense
DENIED = "denied"  # the person declined at the provider
EMAIL = "email"  # no verified email address, or not an allowed domain
NOT_ADMIN = "not_admin"  # a known person without console access
DISABLED = "disabled"  # the user is deactivated
RATE_LIMITED = "rate_limited"  # too many attempts from this address
