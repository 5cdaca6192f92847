"""Choosing and opening a backend from a `database.url`."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gateway.secretbox import SecretBox
from gateway.store import StoreUnavailable, open_store, sqlite_path
from gateway.store.mysql import MysqlParams, parse_mysql_url
from gateway.store.schema import DIALECTS, LATEST_VERSION, migrations, migrations_table


@pytest.fixture
def box() -> SecretBox:
    return SecretBox.from_key(Fernet.generate_key().decode())


def test_sqlite_paths() -> None:
    assert sqlite_path("sqlite:///data/bella.db") == "data/bella.db"
    assert sqlite_path("sqlite:////var/lib/bella/bella.db") == "/var/lib/bella/bella.db"
    with pytest.raises(ValueError, match="sqlite:///"):
        sqlite_path("sqlite:///")


def test_mysql_urls() -> None:
    assert parse_mysql_url("mysql://bella:p%40ss%3Aw0rd@db.internal:3307/bella") == MysqlParams(
        database="bella", host="db.internal", port=3307, user="bella", password="p@ss:w0rd"
    )
    assert parse_mysql_url("mysql+aiomysql://u@h/db?unix_socket=/run/mysqld.sock") == MysqlParams(
        database="db", host="h", user="u", unix_socket="/run/mysqld.sock"
    )
    assert "secret" not in repr(parse_mysql_url("mysql://u:secret@h/db"))
    with pytest.raises(ValueError, match="database"):
        parse_mysql_url("mysql://u:p@h:3306/")


async def test_unknown_scheme(box: SecretBox) -> None:
    with pytest.raises(ValueError, match="unsupported database URL scheme 'postgres'"):
        await open_store("postgres://u:secret@h/db", box)


async def test_sqlite_creates_the_directory_in_wal_mode(tmp_path: Path, box: SecretBox) -> None:
    path = tmp_path / "a" / "b" / "bella.db"
    store = await open_store(f"sqlite:///{path}", box)
    try:
        assert await store.migrate() == list(range(1, LATEST_VERSION + 1))
    finally:
        await store.close()
    assert path.exists()
    assert path.read_bytes()[18:20] == b"\x02\x02"  # the header records WAL mode


def test_migrations_are_ordered_and_rendered_per_dialect() -> None:
    for dialect in DIALECTS:
        versions = [m.version for m in migrations(dialect)]
        assert versions == sorted(set(versions))
        assert versions[-1] == LATEST_VERSION
        statements = [
            migrations_table(dialect),
            *(s for m in migrations(dialect) for s in m.statements),
        ]
        assert not any("{" in s for s in statements)
    assert "DECIMAL(20,8)" in "".join(migrations("mysql")[0].statements)
    assert "InnoDB" in migrations_table("mysql")
    with pytest.raises(ValueError, match="dialect"):
        migrations("oracle")


async def test_unreachable_mysql_is_store_unavailable(box: SecretBox) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreUnavailable, match="MySQL unavailable"):
        await open_store(f"mysql://root:secret@127.0.0.1:{port}/bella", box)
