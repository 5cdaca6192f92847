"""`MysqlStore`: the production backend, an aiomysql pool on MySQL 8 or MariaDB 10.5+.

Connections run in autocommit mode; `_transaction` wraps a block in BEGIN/COMMIT and rolls
back on any error (a connection released mid-transaction is closed by the pool, never reused).

No statement here may raise a server warning: aiomysql turns each one into a Python warning.
That is why duplicates are skipped with `ON DUPLICATE KEY UPDATE k = k` rather than
`INSERT IGNORE`, which also downgrades real errors (bad values, truncation) to warnings, and
why sessions run in strict SQL mode, where such problems are errors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiomysql

from gateway.secretbox import SecretBox
from gateway.store import codec
from gateway.store.errors import Contention, DuplicateError, StoreUnavailable
from gateway.store.sql import Conn, SqlStore, insert_sql

log = logging.getLogger(__name__)

SCHEMES = ("mysql", "mysql+aiomysql")
ER_DUP_ENTRY = 1062
ER_LOCK_WAIT_TIMEOUT = 1205
ER_LOCK_DEADLOCK = 1213
# Server errors meaning "no usable connection" (the 2000-2999 range is the client's own).
_UNAVAILABLE_CODES = frozenset({1040, 1045, 1049, 1053, 1129, 1130, 1927, 4031})
_SQL_MODE = "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
_MIGRATION_LOCK_WAIT_S = 60


@dataclass(frozen=True, slots=True)
class MysqlParams:
    database: str
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False)
    unix_socket: str | None = None


def parse_mysql_url(url: str) -> MysqlParams:
    """`mysql://user:pass@host:port/db[?unix_socket=/path]`; user and password URL-decoded."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"not a MySQL URL (expected {' or '.join(SCHEMES)}://…)")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ValueError("the MySQL URL needs a database: mysql://user:pass@host:3306/bella")
    sockets = parse_qs(parts.query).get("unix_socket")
    return MysqlParams(
        database=database,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        unix_socket=sockets[0] if sockets else None,
    )


def _unavailable(e: BaseException) -> bool:
    if isinstance(e, aiomysql.InterfaceError | OSError | TimeoutError):
        return True
    code = e.args[0] if e.args else None
    return isinstance(code, int) and (2000 <= code < 3000 or code in _UNAVAILABLE_CODES)


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except aiomysql.IntegrityError as e:
        if e.args and e.args[0] == ER_DUP_ENTRY:
            raise DuplicateError(str(e.args[-1])) from e
        raise
    except (aiomysql.OperationalError, aiomysql.InterfaceError, OSError, TimeoutError) as e:
        if e.args and e.args[0] in (ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT):
            raise Contention(str(e.args[-1])) from e
        if _unavailable(e):
            raise StoreUnavailable(f"MySQL unavailable: {e}") from e
        raise


def _format_style(sql: str) -> str:
    # The store writes `?`; the driver interpolates `%s` (and so needs a literal % doubled).
    return sql.replace("%", "%%").replace("?", "%s")


def _supports_row_alias(version: str) -> bool:
    """MySQL 8.0.19+ deprecates VALUES() in ON DUPLICATE KEY UPDATE; MariaDB lacks the alias."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if "mariadb" in version.lower() or match is None:
        return False
    return tuple(int(n) for n in match.groups()) >= (8, 0, 19)


class _MysqlConn:
    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        async with self._raw.cursor() as cursor:
            await cursor.execute(_format_style(sql), tuple(params))
            return int(cursor.rowcount)

    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        async with self._raw.cursor() as cursor:
            await cursor.execute(_format_style(sql), tuple(params))
            return [tuple(row) for row in await cursor.fetchall()]

    async def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> int:
        async with self._raw.cursor() as cursor:
            await cursor.executemany(_format_style(sql), [tuple(r) for r in rows])
            return int(cursor.rowcount)


async def _rollback(raw: Any) -> None:
    if raw.closed:
        return
    try:
        await raw.rollback()
    except (aiomysql.Error, OSError):
        log.warning("rollback failed; dropping the connection", exc_info=True)
        raw.close()


class MysqlStore(SqlStore):
    dialect = "mysql"
    tables_sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"

    def __init__(self, pool: Any, box: SecretBox, *, database: str, row_alias: bool) -> None:
        super().__init__(box)
        self._pool = pool
        self._lock_name = f"bella-gateway-migrate:{database}"[:64]
        self._row_alias = row_alias

    @classmethod
    async def open(
        cls, params: MysqlParams, box: SecretBox, *, maxsize: int = 10, pool_recycle: int = 3600
    ) -> MysqlStore:
        """Connect a pool (one connection at once, up to `maxsize`) and detect the server."""
        with _mapped_errors():
            pool = await aiomysql.create_pool(
                minsize=1,
                maxsize=maxsize,
                pool_recycle=pool_recycle,
                host=params.host,
                port=params.port,
                user=params.user,
                password=params.password,
                db=params.database,
                unix_socket=params.unix_socket,
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=10,
                init_command=_SQL_MODE,
            )
        store = cls(pool, box, database=params.database, row_alias=False)
        try:
            async with store._connection() as conn:
                rows = await conn.fetch("SELECT VERSION()")
        except BaseException:
            await store.close()
            raise
        store._row_alias = _supports_row_alias(str(rows[0][0]))
        return store

    async def close(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        with _mapped_errors():
            async with self._pool.acquire() as raw:
                yield _MysqlConn(raw)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        with _mapped_errors():
            async with self._pool.acquire() as raw:
                try:
                    await raw.begin()
                    yield _MysqlConn(raw)
                    await raw.commit()
                except BaseException:
                    await _rollback(raw)
                    raise

    @asynccontextmanager
    async def _migration_session(self) -> AsyncIterator[Conn]:
        # DDL commits implicitly in MySQL, so migrations cannot share one transaction; a
        # named server lock keeps two gateways from migrating the same database at once.
        with _mapped_errors():
            async with self._pool.acquire() as raw:
                conn = _MysqlConn(raw)
                got = await conn.fetch(
                    "SELECT GET_LOCK(?, ?)", (self._lock_name, _MIGRATION_LOCK_WAIT_S)
                )
                if got[0][0] != 1:
                    raise StoreUnavailable("timed out waiting for another process to migrate")
                try:
                    yield conn
                finally:
                    if not raw.closed:
                        await conn.fetch("SELECT RELEASE_LOCK(?)", (self._lock_name,))

    def _new(self, column: str) -> str:
        return f"new.{column}" if self._row_alias else f"VALUES({column})"

    def _upsert_sql(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        updates = ", ".join(f"{c} = {self._new(c)}" for c in columns if c not in key)
        alias = " AS new" if self._row_alias else ""
        return f"{insert_sql(table, columns)}{alias} ON DUPLICATE KEY UPDATE {updates}"

    def _insert_ignore_sql(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        # A no-op update: 0 affected rows for a duplicate, 1 for an insert; no warning.
        return f"{insert_sql(table, columns)} ON DUPLICATE KEY UPDATE {key[0]} = {key[0]}"

    def _day_sql(self) -> str:
        return "FLOOR(created_at / 86400)"

    async def _add_month_cost(
        self, conn: Conn, apikey_code: str, month: str, amount: Decimal
    ) -> None:
        # DECIMAL arithmetic is exact and the upsert is atomic under concurrent writers.
        alias = " AS new" if self._row_alias else ""
        sql = (
            insert_sql("apikey_month_cost", ("apikey_code", "month", "cost"))
            + f"{alias} ON DUPLICATE KEY UPDATE cost = cost + {self._new('cost')}"
        )
        await conn.execute(sql, (apikey_code, month, codec.money_param(amount)))
