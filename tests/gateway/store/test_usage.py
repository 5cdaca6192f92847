"""Usage, month costs and audit on both backends (see conftest: every test runs twice)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from gateway.store.base import Store
from gateway.store.records import ApiKey, AuditEntry, UsageRecord
from gateway.store.sqlite import multi_row_insert, statement_sizes
from tests.gateway.store.conftest import Backend

NOV = datetime(2026, 11, 15, 12, tzinfo=UTC).timestamp()


def usage(request_id: str, cost: str, *, key: str = "ak-1", at: float = NOV) -> UsageRecord:
    return UsageRecord(
        request_id=request_id,
        created_at=at,
        apikey_code=key,
        endpoint="/v1/chat/completions",
        model="gpt-4o",
        channel_code="ch-1",
        status=200,
        prompt_tokens=10,
        completion_tokens=20,
        cost=Decimal(cost),
    )


async def test_usage_batch_and_replay(store: Store, backend: Backend) -> None:
    batch = [usage("r1", "0.5"), usage("r2", "1.25"), usage("r3", "2", key="ak-2")]
    assert await store.insert_usage(batch) == 3
    costs = {"ak-1": Decimal("1.75"), "ak-2": Decimal("2")}
    assert await store.month_costs("2026-11") == costs

    assert await store.insert_usage(batch) == 0  # a replay (e.g. from the spool)
    assert await store.month_costs("2026-11") == costs
    assert backend.raw("SELECT COUNT(*) FROM usage_log") == [(3,)]

    # A batch that is partly a replay counts only its new rows.
    assert await store.insert_usage([usage("r2", "1.25"), usage("r4", "0.25")]) == 1
    assert (await store.month_costs("2026-11"))["ak-1"] == Decimal("2")
    assert await store.insert_usage([]) == 0


async def test_a_batch_larger_than_one_statement(store: Store, backend: Backend) -> None:
    # SQLite inserts a batch as multi-row INSERTs of INSERT_ROWS_MAX rows: 250 is 3 of them.
    batch = [usage(f"r{i:03}", "0.01", key=f"ak-{i % 3}") for i in range(250)]
    assert await store.insert_usage(batch) == 250
    assert await store.insert_usage([*batch[240:], usage("r999", "0.01")]) == 1
    assert backend.raw("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM usage_log") == [(251, 251)]
    costs = await store.month_costs("2026-11")
    assert costs == {"ak-0": Decimal("0.84"), "ak-1": Decimal("0.84"), "ak-2": Decimal("0.83")}
    listed = {r.request_id: r for r in await store.list_usage(limit=300)}
    assert listed["r123"] == batch[123]


async def test_concurrent_replays_count_once(store: Store) -> None:
    batch = [usage(f"r{i}", "0.01") for i in range(20)]
    inserted = await asyncio.gather(*(store.insert_usage(batch) for _ in range(4)))
    assert sum(inserted) == 20
    assert await store.month_costs("2026-11") == {"ak-1": Decimal("0.2")}


async def test_money_is_exact(store: Store) -> None:
    await store.insert_usage([usage("r1", "0.1"), usage("r2", "0.2")])
    assert await store.month_costs("2026-11") == {"ak-1": Decimal("0.3")}
    big = "123456789012.12345678"
    await store.insert_usage([usage("r3", big, key="ak-big"), usage("r4", "0.00000001")])
    costs = await store.month_costs("2026-11")
    assert costs["ak-big"] == Decimal(big)
    assert costs["ak-1"] == Decimal("0.30000001")
    assert {u.request_id: u.cost for u in await store.list_usage()}["r3"] == Decimal(big)


async def test_month_is_the_utc_month_of_created_at(store: Store) -> None:
    last_second = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC).timestamp()
    await store.insert_usage(
        [usage("r1", "1", at=last_second), usage("r2", "2", at=last_second + 1)]
    )
    assert await store.month_costs("2026-11") == {"ak-1": Decimal("1")}
    assert await store.month_costs("2026-12") == {"ak-1": Decimal("2")}
    assert await store.month_costs("2027-01") == {}


async def test_list_usage_round_trip(store: Store) -> None:
    first = usage("r1", "0.5")
    second = UsageRecord(
        request_id="r2",
        created_at=NOV + 0.25,
        apikey_code="ak-1",
        endpoint="/v1/audio/speech",
        model="mock-tts",
        channel_code="ch-tts",
        status=502,
        cached_tokens=3,
        estimated=True,
        latency_ms=1234,
        ttft_ms=56,
        error_code="upstream_error",
    )
    await store.insert_usage([first, second])
    assert await store.list_usage() == [second, first]  # newest first
    assert await store.list_usage(limit=1) == [second]


async def test_audit(store: Store) -> None:
    created = AuditEntry("admin", "channel", "ch-1", "create", after={"weight": 1}, address="::1")
    updated = AuditEntry(
        "admin", "channel", "ch-1", "update", before={"weight": 1}, after={"weight": 5}
    )
    await store.insert_audit(created)
    await store.insert_audit(updated)
    newest, oldest = await store.list_audit()
    assert oldest.created_at > 0  # 0 means "now"
    assert oldest == replace(created, created_at=oldest.created_at, id=oldest.id)
    assert (newest.action, newest.before, newest.after) == ("update", {"weight": 1}, {"weight": 5})
    assert await store.list_audit(limit=1) == [newest]


async def test_cancelled_batch_is_all_or_nothing(store: Store, backend: Backend) -> None:
    batch = [usage(f"r{i}", "0.01") for i in range(300)]
    task = asyncio.create_task(store.insert_usage(batch))
    await asyncio.sleep(0.005)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    # Whether the cancel landed before or after the commit, rows and month cost agree, and
    # the store (its lock, its connection) is usable at once.
    assert await store.insert_usage([usage("after", "1", key="ak-2")]) == 1
    [(count,)] = backend.raw("SELECT COUNT(*) FROM usage_log WHERE apikey_code = 'ak-1'")
    assert count in (0, 300)
    assert (await store.month_costs("2026-11")).get("ak-1", Decimal(0)) == count * Decimal("0.01")
    assert await store.insert_usage(batch) == 300 - count


async def test_usage_totals_group_by_key_model_channel_and_day(store: Store) -> None:
    day = 1_795_000_000.0 - 1_795_000_000.0 % 86400  # a UTC midnight
    rows = [
        UsageRecord(
            "r1",
            day + 10,
            "ak-a",
            "/v1/chat/completions",
            "m1",
            "c1",
            200,
            10,
            5,
            0,
            Decimal("0.10000001"),
        ),
        UsageRecord(
            "r2", day + 20, "ak-a", "/v1/chat/completions", "m2", "c1", 200, 1, 1, 0, Decimal("0.2")
        ),
        UsageRecord("r3", day + 86400 + 5, "ak-b", "/v1/chat/completions", "m1", "c2", 502),
    ]
    await store.insert_usage(rows)
    end = day + 2 * 86400
    by_key = {t.group: t for t in await store.usage_totals(day, end, "apikey_code")}
    assert by_key["ak-a"].requests == 2
    assert by_key["ak-a"].cost == Decimal("0.30000001")
    assert (by_key["ak-a"].prompt_tokens, by_key["ak-a"].completion_tokens) == (11, 6)
    by_model = {t.group: t.requests for t in await store.usage_totals(day, end, "model")}
    assert by_model == {"m1": 2, "m2": 1}
    by_channel = {t.group: t.cost for t in await store.usage_totals(day, end, "channel_code")}
    assert by_channel == {"c1": Decimal("0.30000001"), "c2": Decimal(0)}
    days = [(t.group, t.requests) for t in await store.usage_totals(day, end, "day")]
    assert days == [
        (time.strftime("%Y-%m-%d", time.gmtime(day)), 2),
        (time.strftime("%Y-%m-%d", time.gmtime(day + 86400)), 1),
    ]
    assert await store.usage_totals(end, end + 86400, "model") == []


async def test_update_apikey_changes_limits_and_secret(store: Store) -> None:
    key = ApiKey(code="ak-upd", sha256="a" * 64, mask="sk-aa****aaaa", name="n", role="low")
    await store.insert_apikey(key)
    changed = dataclasses.replace(
        key, sha256="b" * 64, name="renamed", role="high", qps=5, month_quota=Decimal("9.5")
    )
    assert await store.update_apikey(changed)
    assert await store.apikey_by_hash("a" * 64) is None
    row = await store.apikey_by_hash("b" * 64)
    assert row is not None
    assert (row.name, row.role, row.qps, row.month_quota) == ("renamed", "high", 5, Decimal("9.5"))
    assert not await store.update_apikey(dataclasses.replace(key, code="ak-none"))


def test_sqlite_statements_come_in_few_sizes() -> None:
    assert statement_sizes(250, 100) == [100, 100, 32, 16, 2]
    assert statement_sizes(7, 3) == [3, 3, 1]
    assert statement_sizes(0, 100) == []
    sizes = {size for rows in range(1, 1000) for size in statement_sizes(rows, 100)}
    assert sizes == {100, 64, 32, 16, 8, 4, 2, 1}
    assert multi_row_insert("INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT (a) DO NOTHING", 2) == (
        "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT (a) DO NOTHING"
    )
