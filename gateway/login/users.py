"""Console users: granting access by email, and recording who logged in.

Shared by `bella-gateway admin grant`, POST /console/users and the login callbacks, so they
apply the same rules: emails are kept lower case; a login creates an unknown person as a user
without access (`role: none`), which an admin (or the system key) may then grant.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import replace

from gateway.errors import InvalidRequest, NotFound
from gateway.login.base import Identity
from gateway.store.base import DuplicateError, Store
from gateway.store.records import Status, User

ROLES = ("admin", "none")
EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")


def normal_email(email: object) -> str:
    text = email.strip().lower() if isinstance(email, str) else ""
    if not EMAIL.match(text) or len(text) > 191:
        raise InvalidRequest("'email' must be an email address.", param="email")
    return text


def check_role(role: object) -> str:
    if role not in ROLES:
        raise InvalidRequest(f"'role' must be one of {', '.join(ROLES)}.", param="role")
    return str(role)


def new_user(email: str, role: str = "none", name: str = "") -> User:
    now = time.time()
    return User(code="u-" + secrets.token_hex(8), email=email, name=name, role=role, created_at=now)


async def get_user(store: Store, code: str) -> User:
    user = await store.user_by_code(code)
    if user is None:
        raise NotFound(f"No user '{code}'.", code="user_not_found")
    return user


async def grant(store: Store, email: str, role: str = "admin") -> tuple[User | None, User]:
    """Give `email` the role, creating the user when unknown; (before, after)."""
    email, role = normal_email(email), check_role(role)
    before = await store.user_by_email(email)
    if before is None:
        after = new_user(email, role)
        try:
            await store.insert_user(after)
        except DuplicateError:  # created meanwhile by a login: update that one
            return await grant(store, email, role)
        return None, after
    after = replace(before, role=role)
    await store.update_user(after)
    return before, after


async def set_status(store: Store, user: User, status: Status) -> User:
    changed = replace(user, status=status)
    await store.update_user(changed)
    return changed


async def end_sessions(store: Store, user: User) -> User:
    """Log the user out everywhere: every session begun until now is over."""
    changed = replace(user, sessions_valid_after=time.time())
    await store.update_user(changed)
    return changed


async def logged_in(store: Store, identity: Identity) -> User:
    """The user for a verified identity, created without access when new."""
    user = await store.user_by_email(identity.email)
    if user is None:
        user = new_user(identity.email, name=identity.name)
        try:
            await store.insert_user(user)
        except DuplicateError:
            found = await store.user_by_email(identity.email)
            if found is None:
                raise
            user = found
    changed = replace(
        user,
        name=user.name or identity.name,
        provider=identity.provider,
        subject=identity.subject,
        last_login_at=time.time(),
    )
    await store.update_user(changed)
    return changed


async def update(store: Store, user: User, *, name: str, role: str) -> User:
    changed = replace(user, name=name, role=check_role(role))
    await store.update_user(changed)
    return changed
