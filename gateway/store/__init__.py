"""Persistence: one `Store` Protocol, a SQLite (embedded) and a MySQL/MariaDB backend."""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.secretbox import SecretBox
from gateway.store.base import DuplicateError, Store
from gateway.store.errors import StoreUnavailable
from gateway.store.mysql import SCHEMES as MYSQL_SCHEMES
from gateway.store.mysql import MysqlStore, parse_mysql_url
from gateway.store.sqlite import SqliteStore

__all__ = ["DuplicateError", "Store", "StoreUnavailable", "open_store", "sqlite_path"]

_SQLITE_PREFIX = "sqlite:///"


def sqlite_path(url: str) -> str:
    """`sqlite:///rel/path.db` → `rel/path.db`; `sqlite:////abs/path.db` → `/abs/path.db`."""
    if not url.startswith(_SQLITE_PREFIX) or len(url) == len(_SQLITE_PREFIX):
        raise ValueError(f"expected {_SQLITE_PREFIX}path/to/file.db, got {url!r}")
    return url[len(_SQLITE_PREFIX) :].split("?", 1)[0]


async def open_store(url: str, box: SecretBox) -> Store:
    """Open the store a `database.url` names; the caller closes it (and runs `migrate()`)."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return await SqliteStore.open(sqlite_path(url), box)
    if scheme in MYSQL_SCHEMES:
        return await MysqlStore.open(parse_mysql_url(url), box)
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: "
        "use sqlite:///path/to/file.db or mysql://user:password@host:3306/database"
    )
