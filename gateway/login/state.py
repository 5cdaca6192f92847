"""`Login`: everything the login routes share, built once per application."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp_session import AbstractStorage
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.login.flow import FLOW_TTL_S
from gateway.login.once import Once
from gateway.login.providers import OAuthProvider, Provider, parse_providers
from gateway.login.storage import RedisSessionStorage
from gateway.login.throttle import LoginThrottle
from gateway.secretbox import load_master_key
from gateway.settings import Settings
from ratelimit import RedisClient, RedisLimiter


@dataclass(slots=True)
class Login:
    storage: AbstractStorage
    fernet: Fernet  # seals the flow cookie (and the session cookie without Redis)
    providers: dict[str, Provider]
    throttle: LoginThrottle
    once: Once
    discovered: dict[str, OAuthProvider] = field(default_factory=dict)  # OIDC, after discovery


def cookie_fernet(settings: Settings) -> Fernet:
    """`login.secret`, else a key derived from the master key (HKDF, its own purpose)."""
    if settings.login.secret:
        return Fernet(settings.login.secret.encode("ascii"))
    master = load_master_key(
        settings.secrets.master_key, Path(settings.server.data_dir), embedded=settings.embedded
    )
    derived = HKDF(
        algorithm=SHA256(), length=32, salt=None, info=b"bella-gateway login cookies"
    ).derive(master.encode("ascii"))
    return Fernet(base64.urlsafe_b64encode(derived))


def build_login(settings: Settings, redis: RedisClient | None) -> Login:
    login = settings.login
    fernet = cookie_fernet(settings)
    idle = max(int(login.idle_s), 1)
    storage: AbstractStorage
    if redis is not None:
        storage = RedisSessionStorage(
            redis, cookie_name=login.cookie_name, max_age=idle, secure=login.secure_cookie
        )
    else:
        storage = EncryptedCookieStorage(
            fernet,
            cookie_name=login.cookie_name,
            max_age=idle,
            secure=login.secure_cookie,
            httponly=True,
            samesite="Lax",
        )
    return Login(
        storage=storage,
        fernet=fernet,
        providers=parse_providers(login.providers),
        throttle=LoginThrottle(
            RedisLimiter(redis) if redis is not None else None, login.attempts_per_minute
        ),
        once=Once(redis, FLOW_TTL_S),
    )
