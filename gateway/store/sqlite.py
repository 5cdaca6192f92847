"""`SqliteStore`: the embedded backend, one aiosqlite connection in WAL mode.

SQLite has a single writer anyway, so the store keeps one connection and serializes its use
with an asyncio lock: a statement of one coroutine can never land inside another coroutine's
open transaction. Transactions start with `BEGIN IMMEDIATE`, which takes the write lock at
once, so a read-modify-write inside one (the month cost) cannot race another process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.secretbox import SecretBox
from gateway.store import codec
from gateway.store.errors import DuplicateError, StoreUnavailable
from gateway.store.sql import Conn, SqlStore, insert_sql

log = logging.getLogger(__name__)

_VALUES = " VALUES ("
INSERT_ROWS_MAX = 100  # rows per INSERT statement of `execute_many`
_UNIQUE_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})
_UNAVAILABLE = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR"})


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as e:
        if e.sqlite_errorname in _UNIQUE_VIOLATIONS:
            raise DuplicateError(str(e)) from e
        raise
    except sqlite3.OperationalError as e:
        if e.sqlite_errorname in _UNAVAILABLE or e.sqlite_errorname.startswith("SQLITE_IOERR"):
            raise StoreUnavailable(f"SQLite database unavailable: {e}") from e
        raise


class _SqliteConn:
    __slots__ = ("_db",)

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        async with self._db.execute(sql, params) as cursor:
            return cursor.rowcount

    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self._db.execute_fetchall(sql, params)]

    async def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> int:
        if not rows or _VALUES not in sql:
            async with self._db.executemany(sql, rows) as cursor:
                return cursor.rowcount
        per = max(1, min(INSERT_ROWS_MAX, _variable_limit() // len(rows[0])))
        changed = start = 0
        for size in statement_sizes(len(rows), per):
            params = [value for row in rows[start : start + size] for value in row]
            changed += await self.execute(multi_row_insert(sql, size), params)
            start += size
        return changed


def statement_sizes(rows: int, per: int) -> list[int]:
    """`rows` split into statements of `per` rows, the rest into powers of two: few distinct
    statements, so SQLite's statement cache spares compiling them again."""
    sizes = [per] * (rows // per)
    rest = rows % per
    while rest:
        size = 1 << (rest.bit_length() - 1)
        sizes.append(size)
        rest -= size
    return sizes


@functools.lru_cache(maxsize=64)  # the same str object again: its hash is kept, == is `is`
def multi_row_insert(sql: str, rows: int) -> str:
    """`sql`, an INSERT of one row of placeholders (`... VALUES (?, ?)` and an optional
    tail such as `ON CONFLICT ...`), made an INSERT of `rows` rows.

    One statement of many rows, rather than `executemany`, which steps SQLite once per row
    and hands the GIL to and from aiosqlite's thread at each step: a batch of usage records
    costs about half as much CPU this way, and the request path is not interrupted per row.
    """
    head, _, rest = sql.partition(_VALUES)
    group, _, tail = rest.partition(")")
    return f"{head}{_VALUES}{'), ('.join([group] * rows)}){tail}"


def _variable_limit() -> int:
    """Bound parameters one statement may hold (SQLITE_MAX_VARIABLE_NUMBER's default)."""
    return 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


class SqliteStore(SqlStore):
    dialect = "sqlite"
    tables_sql = "SELECT name FROM sqlite_master WHERE type = 'table'"

    def __init__(self, db: aiosqlite.Connection, box: SecretBox) -> None:
        super().__init__(box)
        self._db = db
        self._conn = _SqliteConn(db)
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str, box: SecretBox, *, busy_timeout_s: float = 5.0) -> SqliteStore:
        """Open (creating the file and its directory if needed) a database at `path`."""
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        with _mapped_errors():
            # isolation_level=None: autocommit; transactions are explicit BEGIN/COMMIT.
            db = await aiosqlite.connect(path, timeout=busy_timeout_s, isolation_level=None)
        try:
            with _mapped_errors():
                await db.execute_fetchall("PRAGMA journal_mode = WAL")
                await db.execute_fetchall("PRAGMA synchronous = NORMAL")
        except BaseException:
            await db.close()
            raise
        return cls(db, box)

    async def close(self) -> None:
        await self._db.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        async with self._lock:
            with _mapped_errors():
                yield self._conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        async with self._lock:
            with _mapped_errors():
                try:
                    await self._conn.execute("BEGIN IMMEDIATE")
                    yield self._conn
                    await self._conn.execute("COMMIT")
                except BaseException:
                    await self._rollback()
                    raise

    async def _rollback(self) -> None:
        # aiosqlite runs statements in order on its thread, and a statement whose caller was
        # cancelled still runs. So this ROLLBACK runs after any such BEGIN or COMMIT, and only
        # then is it known whether a transaction is open: "none active" is an expected answer
        # (also when SQLite already rolled back by itself).
        try:
            await self._conn.execute("ROLLBACK")
        except sqlite3.OperationalError:
            if self._db.in_transaction:
                raise
            log.debug("no transaction left to roll back")

    def _migration_session(self) -> AbstractAsyncContextManager[Conn]:
        # DDL is transactional in SQLite: all pending migrations apply atomically, and
        # BEGIN IMMEDIATE keeps a second process from migrating at the same time.
        return self._transaction()

    def _upsert_sql(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        return (
            f"{insert_sql(table, columns)} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        )

    def _insert_ignore_sql(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        return f"{insert_sql(table, columns)} ON CONFLICT ({', '.join(key)}) DO NOTHING"

    def _money_sum_sql(self) -> str:
        # Money is TEXT here: sum whole 1e-8 units as integers, which SQLite adds exactly.
        return "SUM(CAST(ROUND(cost * 100000000) AS INTEGER))"

    def _money_sum_value(self, value: object) -> Decimal:
        return Decimal(str(value or 0)).scaleb(-8)

    async def _add_month_cost(
        self, conn: Conn, apikey_code: str, month: str, amount: Decimal
    ) -> None:
        # Money is TEXT here and SQL arithmetic on it would go through float, so the sum is
        # done in Python; BEGIN IMMEDIATE makes the read-then-write atomic.
        rows = await conn.fetch(
            "SELECT cost FROM apikey_month_cost WHERE apikey_code = ? AND month = ?",
            (apikey_code, month),
        )
        total = amount + (codec.money_value(rows[0][0]) if rows else Decimal(0))
        sql = self._upsert_sql(
            "apikey_month_cost", ("apikey_code", "month", "cost"), ("apikey_code", "month")
        )
        await conn.execute(sql, (apikey_code, month, codec.money_param(total)))
