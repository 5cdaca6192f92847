"""API key secrets: generation, hashing and display masks. Only the sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import replace
from decimal import Decimal

from gateway.store.records import ApiKey

SECRET_PREFIX = "sk-"
CODE_PREFIX = "ak-"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(36).replace("-", "x").replace("_", "y")


def new_code() -> str:
    return CODE_PREFIX + secrets.token_hex(10)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def mask(secret: str) -> str:
    return f"{secret[:5]}****{secret[-4:]}"


def make_key(
    *,
    name: str,
    role: str,
    parent_code: str | None = None,
    qps: int = 0,
    concurrency: int = 0,
    month_quota: Decimal | None = None,
) -> tuple[str, ApiKey]:
    """A new key and its row; the secret is returned once and never kept."""
    secret = new_secret()
    row = ApiKey(
        code=new_code(),
        sha256=hash_secret(secret),
        mask=mask(secret),
        name=name,
        role=role,
        parent_code=parent_code,
        qps=qps,
        concurrency=concurrency,
        month_quota=month_quota,
        created_at=time.time(),
    )
    return secret, row


def with_new_secret(row: ApiKey) -> tuple[str, ApiKey]:
    secret = new_secret()
    return secret, replace(row, sha256=hash_secret(secret), mask=mask(secret))
