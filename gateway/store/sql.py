"""`SqlStore`: the whole `Store` contract, written once over a handful of dialect hooks.

SQL here uses `?` placeholders and only bound parameters; a backend converts the placeholder
style if its driver needs another. Table and column names come from this package, never from
callers, so they are the only text ever joined into a statement.

Invariants:
- `insert_usage` inserts each record at most once (unique `request_id`) and, in the same
  transaction, adds to `apikey_month_cost` only the cost of the rows it actually inserted, so
  replaying a batch (e.g. from the spool after a DB outage) never double-counts spend. It
  looks up which ids are already stored and inserts the rest with one `executemany`; if
  fewer rows went in than expected (a concurrent writer) or the database broke a deadlock,
  it rolls back and goes row by row (retried on a deadlock, which rolls everything back).
- credentials are sealed by the `SecretBox` before they reach SQL and opened after reading.
"""

from __future__ import annotations

import abc
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol

from gateway.secretbox import SecretBox
from gateway.store import codec
from gateway.store.errors import Contention
from gateway.store.records import (
    ApiKey,
    AuditEntry,
    Category,
    ChannelRow,
    Endpoint,
    Model,
    ReportGroup,
    Status,
    UsageRecord,
    UsageTotal,
    User,
)
from gateway.store.schema import Migration, migrations, migrations_table


class Conn(Protocol):
    """One connection as the store uses it: run a statement, or run a query for rows."""

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement; the number of rows it changed."""

    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one query; all its rows."""

    async def execute_many(self, sql: str, rows: Sequence[Sequence[object]]) -> int:
        """Run one statement once per row of parameters; the rows changed in all."""


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


def insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_placeholders(len(columns))})"


def select_sql(table: str, columns: Sequence[str], tail: str = "") -> str:
    return f"SELECT {', '.join(columns)} FROM {table}" + (f" {tail}" if tail else "")


class SqlStore(abc.ABC):
    """The `Store` Protocol over abstract connection, transaction and dialect hooks."""

    dialect: ClassVar[str]
    # A query listing the current database's tables, one name per row.
    tables_sql: ClassVar[str]

    def __init__(self, box: SecretBox) -> None:
        self._box = box

    # -- dialect hooks ---------------------------------------------------------------------

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def _connection(self) -> AbstractAsyncContextManager[Conn]:
        """A connection in autocommit mode: each statement commits on its own."""

    @abc.abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[Conn]:
        """A connection inside a transaction: committed on exit, rolled back on any error."""

    @abc.abstractmethod
    def _migration_session(self) -> AbstractAsyncContextManager[Conn]:
        """A connection no other process migrates through at the same time."""

    @abc.abstractmethod
    def _upsert_sql(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        """Insert a row, or update every non-key column of the row with the same key."""

    @abc.abstractmethod
    def _insert_ignore_sql(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        """Insert a row unless one with the same unique `key` exists (then change nothing)."""

    @abc.abstractmethod
    async def _add_month_cost(
        self, conn: Conn, apikey_code: str, month: str, amount: Decimal
    ) -> None:
        """Add `amount` exactly to the key's month total, creating the row when absent."""

    # -- lifecycle and schema --------------------------------------------------------------

    async def ping(self) -> None:
        async with self._connection() as conn:
            await conn.fetch("SELECT 1")

    async def migrate(self) -> list[int]:
        """Apply the missing migrations in order; the versions applied now (`[]` if none)."""
        async with self._migration_session() as conn:
            if "schema_migrations" not in await self._tables(conn):
                await conn.execute(migrations_table(self.dialect))
            done = {int(r[0]) for r in await conn.fetch("SELECT version FROM schema_migrations")}
            applied: list[int] = []
            for migration in migrations(self.dialect):
                if migration.version not in done:
                    await self._apply(conn, migration)
                    applied.append(migration.version)
            return applied

    async def schema_version(self) -> int:
        """The highest applied migration, 0 on an empty database."""
        async with self._connection() as conn:
            if "schema_migrations" not in await self._tables(conn):
                return 0
            rows = await conn.fetch("SELECT MAX(version) FROM schema_migrations")
        return int(rows[0][0] or 0)

    async def _tables(self, conn: Conn) -> set[str]:
        return {str(r[0]) for r in await conn.fetch(self.tables_sql)}

    async def _apply(self, conn: Conn, migration: Migration) -> None:
        for statement in migration.statements:
            await conn.execute(statement)
        await conn.execute(
            insert_sql("schema_migrations", ("version", "description", "applied_at")),
            (migration.version, migration.description, time.time()),
        )

    # -- api keys --------------------------------------------------------------------------

    async def insert_apikey(self, key: ApiKey) -> None:
        """Store a new key; `DuplicateError` if its code or sha256 is taken.

        A `created_at` of 0 means now.
        """
        params = codec.apikey_params(key, key.created_at or time.time())
        async with self._connection() as conn:
            await conn.execute(insert_sql("apikey", codec.APIKEY_COLUMNS), params)

    async def apikey_by_hash(self, sha256: str) -> ApiKey | None:
        return await self._one_apikey("sha256", sha256)

    async def apikey_by_code(self, code: str) -> ApiKey | None:
        return await self._one_apikey("code", code)

    async def _one_apikey(self, column: Literal["code", "sha256"], value: str) -> ApiKey | None:
        sql = select_sql("apikey", codec.APIKEY_COLUMNS, f"WHERE {column} = ?")
        async with self._connection() as conn:
            rows = await conn.fetch(sql, (value,))
        return codec.apikey_from(rows[0]) if rows else None

    async def list_apikeys(self) -> list[ApiKey]:
        sql = select_sql("apikey", codec.APIKEY_COLUMNS, "ORDER BY created_at, code")
        return [codec.apikey_from(r) for r in await self._fetch(sql)]

    async def set_apikey_status(self, code: str, status: Status) -> bool:
        """Set a key's status; False when no key has that code."""
        async with self._transaction() as conn:
            if await conn.execute("UPDATE apikey SET status = ? WHERE code = ?", (status, code)):
                return True
            # MySQL counts only rows it changed, so an unchanged status needs a second look.
            return bool(await conn.fetch("SELECT 1 FROM apikey WHERE code = ?", (code,)))

    async def update_apikey(self, key: ApiKey) -> bool:
        """Replace a key's mutable fields (secret hash, mask, name, role, limits, status)."""
        sql = (
            "UPDATE apikey SET sha256 = ?, mask = ?, name = ?, role = ?, status = ?, qps = ?, "
            "concurrency = ?, month_quota = ? WHERE code = ?"
        )
        quota = None if key.month_quota is None else codec.money_param(key.month_quota)
        params = (key.sha256, key.mask, key.name, key.role, key.status, key.qps)
        async with self._transaction() as conn:
            if await conn.execute(sql, (*params, key.concurrency, quota, key.code)):
                return True
            return bool(await conn.fetch("SELECT 1 FROM apikey WHERE code = ?", (key.code,)))

    # -- catalog ---------------------------------------------------------------------------

    async def upsert_category(self, category: Category) -> None:
        await self._upsert("category", codec.CATEGORY_COLUMNS, codec.category_params(category))

    async def upsert_endpoint(self, endpoint: Endpoint) -> None:
        await self._upsert("endpoint", codec.ENDPOINT_COLUMNS, codec.endpoint_params(endpoint))

    async def upsert_model(self, model: Model) -> None:
        await self._upsert("model", codec.MODEL_COLUMNS, codec.model_params(model))

    async def upsert_channel(self, channel: ChannelRow) -> None:
        """Create or update by code; credentials are sealed before they reach the database."""
        sealed = self._box.encrypt(channel.credentials)
        params = codec.channel_params(channel, sealed, time.time())
        await self._upsert("channel", codec.CHANNEL_COLUMNS, params)

    async def _upsert(self, table: str, columns: Sequence[str], params: codec.Params) -> None:
        sql = self._upsert_sql(table, columns, columns[:1])
        async with self._connection() as conn:
            await conn.execute(sql, params)

    async def list_categories(self) -> list[Category]:
        rows = await self._fetch(select_sql("category", codec.CATEGORY_COLUMNS, "ORDER BY code"))
        return [codec.category_from(r) for r in rows]

    async def list_endpoints(self) -> list[Endpoint]:
        rows = await self._fetch(select_sql("endpoint", codec.ENDPOINT_COLUMNS, "ORDER BY path"))
        return [codec.endpoint_from(r) for r in rows]

    async def list_models(self) -> list[Model]:
        rows = await self._fetch(select_sql("model", codec.MODEL_COLUMNS, "ORDER BY name"))
        return [codec.model_from(r) for r in rows]

    async def list_channels(self) -> list[ChannelRow]:
        """Every channel with its credentials opened (`SecretBoxError` on a wrong key)."""
        rows = await self._fetch(select_sql("channel", codec.CHANNEL_COLUMNS, "ORDER BY code"))
        return [codec.channel_from(r, self._box.decrypt(r[5])) for r in rows]

    async def get_category(self, code: str) -> Category | None:
        rows = await self._where("category", codec.CATEGORY_COLUMNS, "code", code)
        return codec.category_from(rows[0]) if rows else None

    async def get_endpoint(self, path: str) -> Endpoint | None:
        rows = await self._where("endpoint", codec.ENDPOINT_COLUMNS, "path", path)
        return codec.endpoint_from(rows[0]) if rows else None

    async def get_model(self, name: str) -> Model | None:
        rows = await self._where("model", codec.MODEL_COLUMNS, "name", name)
        return codec.model_from(rows[0]) if rows else None

    async def get_channel(self, code: str) -> ChannelRow | None:
        rows = await self._where("channel", codec.CHANNEL_COLUMNS, "code", code)
        return codec.channel_from(rows[0], self._box.decrypt(rows[0][5])) if rows else None

    async def insert_category(self, category: Category) -> None:
        """Create a category; `DuplicateError` if its code is taken (the same for the rest)."""
        await self._insert("category", codec.CATEGORY_COLUMNS, codec.category_params(category))

    async def insert_endpoint(self, endpoint: Endpoint) -> None:
        await self._insert("endpoint", codec.ENDPOINT_COLUMNS, codec.endpoint_params(endpoint))

    async def insert_model(self, model: Model) -> None:
        await self._insert("model", codec.MODEL_COLUMNS, codec.model_params(model))

    async def insert_channel(self, channel: ChannelRow) -> None:
        sealed = self._box.encrypt(channel.credentials)
        params = codec.channel_params(channel, sealed, time.time())
        await self._insert("channel", codec.CHANNEL_COLUMNS, params)

    async def _insert(self, table: str, columns: Sequence[str], params: codec.Params) -> None:
        async with self._connection() as conn:
            await conn.execute(insert_sql(table, columns), params)

    async def _where(
        self, table: str, columns: Sequence[str], key: str, value: object
    ) -> list[tuple[Any, ...]]:
        return await self._fetch(select_sql(table, columns, f"WHERE {key} = ?"), (value,))

    # -- console users ---------------------------------------------------------------------

    async def insert_user(self, user: User) -> None:
        """Store a new user; `DuplicateError` if the code or email is taken."""
        await self._insert("console_user", codec.USER_COLUMNS, codec.user_params(user))

    async def user_by_code(self, code: str) -> User | None:
        rows = await self._where("console_user", codec.USER_COLUMNS, "code", code)
        return codec.user_from(rows[0]) if rows else None

    async def user_by_email(self, email: str) -> User | None:
        rows = await self._where("console_user", codec.USER_COLUMNS, "email", email)
        return codec.user_from(rows[0]) if rows else None

    async def list_users(self) -> list[User]:
        sql = select_sql("console_user", codec.USER_COLUMNS, "ORDER BY email")
        return [codec.user_from(r) for r in await self._fetch(sql)]

    async def update_user(self, user: User) -> bool:
        """Replace a user's mutable fields (all but code and created_at); False if unknown."""
        columns = [c for c in codec.USER_COLUMNS if c not in ("code", "created_at")]
        sql = f"UPDATE console_user SET {', '.join(f'{c} = ?' for c in columns)} WHERE code = ?"
        values = dict(zip(codec.USER_COLUMNS, codec.user_params(user), strict=True))
        async with self._transaction() as conn:
            if await conn.execute(sql, (*(values[c] for c in columns), user.code)):
                return True
            found = await conn.fetch("SELECT 1 FROM console_user WHERE code = ?", (user.code,))
            return bool(found)

    # -- usage -----------------------------------------------------------------------------

    async def insert_usage(self, records: Sequence[UsageRecord]) -> int:
        """Insert records not stored yet (by `request_id`); the number inserted.

        The month cost of each key grows by the cost of the inserted rows only.
        """
        if not records:
            return 0
        try:
            return await self._insert_usage_batch(records)
        except (_Raced, Contention):
            pass
        retries = CONTENTION_RETRIES
        while True:
            try:
                return await self._insert_usage_rows(records)
            except Contention:
                retries -= 1
                if not retries:
                    raise

    async def _insert_usage_batch(self, records: Sequence[UsageRecord]) -> int:
        """One `executemany` of the whole batch; `_Raced` unless every row was new.

        A batch is almost always new (duplicates come only from a spool replayed after an
        outage, or a racing writer), so no query looks for known ids first: a short count
        rolls the batch back, and the row-by-row path sorts out which rows are ours.
        """
        sql = self._insert_ignore_sql("usage_log", codec.USAGE_COLUMNS, ("request_id",))
        unique = list({r.request_id: r for r in records}.values())
        async with self._transaction() as conn:
            params = [codec.usage_params(r) for r in unique]
            if await conn.execute_many(sql, params) != len(unique):
                raise _Raced  # rolls back: which rows were ours is unknown
            await self._add_month_costs(conn, unique)
        return len(unique)

    async def _insert_usage_rows(self, records: Sequence[UsageRecord]) -> int:
        """Row by row, so each row's own count says whether it was inserted here."""
        sql = self._insert_ignore_sql("usage_log", codec.USAGE_COLUMNS, ("request_id",))
        async with self._transaction() as conn:
            inserted = [r for r in records if await conn.execute(sql, codec.usage_params(r))]
            await self._add_month_costs(conn, inserted)
        return len(inserted)

    async def _add_month_costs(self, conn: Conn, inserted: Sequence[UsageRecord]) -> None:
        for (code, month), amount in _month_totals(inserted).items():
            await self._add_month_cost(conn, code, month, amount)

    async def list_usage(self, limit: int = 100) -> list[UsageRecord]:
        """The latest records, newest first."""
        sql = select_sql("usage_log", codec.USAGE_COLUMNS, "ORDER BY id DESC LIMIT ?")
        return [codec.usage_from(r) for r in await self._fetch(sql, (limit,))]

    async def month_costs(self, month: str) -> dict[str, Decimal]:
        """Spend per api key code in a `YYYY-MM` month (UTC)."""
        sql = "SELECT apikey_code, cost FROM apikey_month_cost WHERE month = ?"
        return {str(r[0]): codec.money_value(r[1]) for r in await self._fetch(sql, (month,))}

    async def usage_totals(self, start: float, end: float, by: ReportGroup) -> list[UsageTotal]:
        """Requests, tokens and cost per key, model, channel or UTC day in [start, end)."""
        group = self._day_sql() if by == "day" else by
        sql = (
            f"SELECT {group}, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), "
            f"{self._money_sum_sql()} FROM usage_log WHERE created_at >= ? AND created_at < ? "
            f"GROUP BY {group} ORDER BY {group}"
        )
        rows = await self._fetch(sql, (start, end))
        return [
            UsageTotal(
                group=_day_label(r[0]) if by == "day" else str(r[0]),
                requests=int(r[1]),
                prompt_tokens=int(r[2] or 0),
                completion_tokens=int(r[3] or 0),
                cost=self._money_sum_value(r[4]),
            )
            for r in rows
        ]

    def _day_sql(self) -> str:
        return "CAST(created_at / 86400 AS INTEGER)"

    def _money_sum_sql(self) -> str:
        return "SUM(cost)"

    def _money_sum_value(self, value: object) -> Decimal:
        return codec.money_value(value or 0)

    # -- audit -----------------------------------------------------------------------------

    async def insert_audit(self, entry: AuditEntry) -> None:
        """Append an audit entry; a `created_at` of 0 means now."""
        params = codec.audit_params(entry, entry.created_at or time.time())
        async with self._connection() as conn:
            await conn.execute(insert_sql("audit_log", codec.AUDIT_COLUMNS), params)

    async def list_audit(
        self,
        limit: int = 100,
        *,
        entity: str | None = None,
        actor: str | None = None,
        since: float | None = None,
        before_id: int | None = None,
    ) -> list[AuditEntry]:
        """The latest entries matching every filter given, newest first.

        `since` keeps entries created at or after it; `before_id` pages back through older ones.
        """
        filters = {"entity = ?": entity, "actor = ?": actor, "created_at >= ?": since}
        filters["id < ?"] = before_id
        given = {clause: value for clause, value in filters.items() if value is not None}
        where = f"WHERE {' AND '.join(given)} " if given else ""
        sql = select_sql(
            "audit_log", ("id", *codec.AUDIT_COLUMNS), where + "ORDER BY id DESC LIMIT ?"
        )
        rows = await self._fetch(sql, (*given.values(), limit))
        return [codec.audit_from(r[1:], int(r[0])) for r in rows]

    async def _fetch(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        async with self._connection() as conn:
            return await conn.fetch(sql, params)


CONTENTION_RETRIES = 3


class _Raced(Exception):
    """Another writer stored some of the batch's request ids while it was being written."""


def _day_label(days: object) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(int(Decimal(str(days))) * 86400))


def _month_totals(records: Iterable[UsageRecord]) -> dict[tuple[str, str], Decimal]:
    totals: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in records:
        if r.cost:
            # Quantized per row, as usage_log stores it, so the total equals the rows' sum.
            totals[r.apikey_code, codec.month_of(r.created_at)] += codec.quantize_money(r.cost)
    return dict(totals)
