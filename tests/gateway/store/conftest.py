"""Each store test runs twice: on a SQLite file and on a fresh database of the test MariaDB."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from gateway.secretbox import SecretBox
from gateway.store import open_store, sqlite_path
from gateway.store.base import Store
from tests.servers.mariadb import MariaDB


@dataclass(frozen=True)
class Backend:
    name: str
    url: str
    server: MariaDB | None = None

    def raw(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of `sql` read straight from the database, past the store."""
        if self.server is None:
            with closing(sqlite3.connect(sqlite_path(self.url))) as conn:
                return [tuple(r) for r in conn.execute(sql).fetchall()]
        return self.server.query(self.url.rsplit("/", 1)[1], sql)


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'db' / 'bella.db'}")
    server: MariaDB = request.getfixturevalue("mysql_server")
    return Backend("mysql", server.create_database(), server)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox.from_key(Fernet.generate_key().decode())


@pytest.fixture
async def fresh_store(backend: Backend, box: SecretBox) -> AsyncIterator[Store]:
    """An open store on an empty database (not migrated)."""
    store = await open_store(backend.url, box)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def store(fresh_store: Store) -> Store:
    await fresh_store.migrate()
    return fresh_store
