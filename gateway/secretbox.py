"""Encryption at rest for channel credentials (Fernet: AES-128-CBC + HMAC-SHA256).

The master key comes from `secrets.master_key`; in embedded mode (SQLite) it may instead live
in `<data_dir>/master.key`, generated on first use with mode 0600. A MySQL deployment is
shared by many hosts, so there the key must be configured explicitly: a key generated on one
host would make every other host unable to read the credentials.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from cryptography.fernet import Fernet, InvalidToken

MASTER_KEY_FILE = "master.key"


class SecretBoxError(Exception):
    """A token cannot be opened: wrong master key, or corrupted data."""


class SecretBox:
    """Seals small `dict[str, str]` secrets into Fernet token text and opens them again."""

    __slots__ = ("_fernet",)

    def __init__(self, fernet: Fernet) -> None:
        self._fernet = fernet

    @classmethod
    def from_key(cls, key: str) -> SecretBox:
        """A box for a url-safe base64 key of 32 bytes (as `Fernet.generate_key()` makes)."""
        try:
            fernet = Fernet(key.strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError) as e:
            # The message must not echo the key itself.
            raise ValueError(
                "secrets.master_key is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes, e.g. from Fernet.generate_key())"
            ) from e
        return cls(fernet)

    def encrypt(self, secrets: dict[str, str]) -> str:
        return self._fernet.encrypt(orjson.dumps(secrets)).decode("ascii")

    def decrypt(self, token: str) -> dict[str, str]:
        try:
            plain = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as e:
            raise SecretBoxError(
                "cannot decrypt stored credentials: wrong secrets.master_key or corrupted data"
            ) from e
        return _as_str_dict(orjson.loads(plain))


def _as_str_dict(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise SecretBoxError("decrypted credentials are not a JSON object")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(v, str):
            raise SecretBoxError(f"decrypted credential {k!r} is not a string")
        out[k] = v
    return out


def load_master_key(configured: str, data_dir: Path, *, embedded: bool) -> str:
    """The master key: the configured one, else (embedded only) `data_dir/master.key`."""
    if configured.strip():
        return configured.strip()
    if not embedded:
        raise ValueError("secrets.master_key is required with a MySQL database")
    path = data_dir / MASTER_KEY_FILE
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        return _create_key_file(path)


def _read_key_file(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise ValueError(f"master key file {path} is empty")
    return key


def _create_key_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it between our read and our create: use theirs.
        return _read_key_file(path)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
        f.flush()
        os.fsync(f.fileno())
    return key.decode("ascii")
