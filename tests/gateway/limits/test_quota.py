"""The quota book: what a request spends is never lost to a reload that was reading."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import cast

from gateway.quota import QuotaBook
from gateway.store.base import Store
from gateway.store.records import ApiKey, UsageRecord


class SlowTotals:
    """The two reads a reload makes; the month totals wait until `release` is set."""

    def __init__(self, totals: dict[str, Decimal]) -> None:
        self.totals = totals
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def month_costs(self, month: str) -> dict[str, Decimal]:
        self.reading.set()
        await self.release.wait()
        return dict(self.totals)

    async def list_apikeys(self) -> list[ApiKey]:
        return []


def spend(code: str, cost: str) -> UsageRecord:
    return UsageRecord(
        request_id=f"req-{code}-{cost}",
        created_at=time.time(),
        apikey_code=code,
        endpoint="/v1/chat/completions",
        model="m",
        channel_code="ch",
        status=200,
        cost=Decimal(cost),
    )


async def test_a_request_recorded_while_a_reload_reads_is_kept() -> None:
    book = QuotaBook()
    store = SlowTotals({"ak-1": Decimal("1.5")})  # what earlier flushes wrote
    reload = asyncio.create_task(book.reload(cast(Store, store)))
    await store.reading.wait()
    book.add([spend("ak-1", "0.25")])  # recorded now, written by the next flush
    store.release.set()
    await reload
    assert book.spent("ak-1") == Decimal("1.75")
    book.add([spend("ak-1", "0.25")])
    assert book.spent("ak-1") == Decimal("2.00")


async def test_a_reload_takes_the_database_totals() -> None:
    book = QuotaBook()
    book.add([spend("ak-1", "9")])  # flushed since, and counted in the totals below
    store = SlowTotals({"ak-1": Decimal("9"), "ak-2": Decimal("3")})
    store.release.set()
    await book.reload(cast(Store, store))
    assert (book.spent("ak-1"), book.spent("ak-2")) == (Decimal("9"), Decimal("3"))
