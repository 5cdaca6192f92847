"""Monthly spend per key, read on the request path from memory.

The book holds this month's spend per key code, a parent's total including its children's.
Each recorded request adds its cost at once (so one process never overshoots by itself);
after every usage flush the book reloads the database's month totals, which carry every
process's spend. Overshoot across processes is therefore bounded by one flush interval of
traffic. A new month starts from zero.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from decimal import Decimal

from gateway.billing import ZERO
from gateway.store.base import Store
from gateway.store.records import ApiKey, UsageRecord
from gateway.tasks import stop

log = logging.getLogger(__name__)

KEYS_EVERY = 10  # reload parents and quotas every this many month-total reloads


def current_month(now: float | None = None) -> str:
    return time.strftime("%Y-%m", time.gmtime(time.time() if now is None else now))


class QuotaBook:
    def __init__(self) -> None:
        self.month = current_month()
        self._spent: dict[str, Decimal] = {}
        self._parents: dict[str, str] = {}
        self._quotas: dict[str, Decimal] = {}
        self._reloads = 0
        self._reloading: asyncio.Task[None] | None = None
        self._during: list[UsageRecord] | None = None  # recorded while a reload reads

    def spent(self, code: str) -> Decimal:
        return self._spent.get(code, ZERO)

    def exhausted(self, key: ApiKey) -> bool:
        """At or over its own quota, or its parent at or over the parent's."""
        if key.month_quota is not None and self.spent(key.code) >= key.month_quota:
            return True
        parent_quota = self._quotas.get(key.parent_code or "")
        return parent_quota is not None and self.spent(key.parent_code or "") >= parent_quota

    def learn(self, key: ApiKey) -> None:
        """Remember a key's parent and quota (called when the key is first seen)."""
        if key.parent_code:
            self._parents[key.code] = key.parent_code
        if key.month_quota is not None:
            self._quotas[key.code] = key.month_quota

    def add(self, records: Sequence[UsageRecord]) -> None:
        if self._during is not None:
            self._during.extend(records)
        self._add(self._spent, records)

    def _add(self, spent: dict[str, Decimal], records: Sequence[UsageRecord]) -> None:
        for record in records:
            if not record.cost:
                continue
            code = record.apikey_code
            spent[code] = spent.get(code, ZERO) + record.cost
            parent = self._parents.get(code)
            if parent:
                spent[parent] = spent.get(parent, ZERO) + record.cost

    async def reload(self, store: Store) -> None:
        """The database's month totals, plus what was recorded meanwhile (not written yet:
        the next flush is an interval away), so a reload never loses a request's cost."""
        month = current_month()
        during = self._during = []
        try:
            own = await store.month_costs(month)
            if self._reloads % KEYS_EVERY == 0:
                await self._reload_keys(store)
        finally:
            self._during = None
        self._reloads += 1
        totals = dict(own)
        for child, parent in self._parents.items():
            if child in own:
                totals[parent] = totals.get(parent, ZERO) + own[child]
        self._add(totals, during)
        self.month, self._spent = month, totals

    async def _reload_keys(self, store: Store) -> None:
        keys = await store.list_apikeys()
        self._parents = {k.code: k.parent_code for k in keys if k.parent_code}
        self._quotas = {k.code: k.month_quota for k in keys if k.month_quota is not None}

    def reload_soon(self, store: Store) -> None:
        """Start a reload unless one runs; called after each usage flush."""
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.create_task(self._reload_logged(store))

    async def _reload_logged(self, store: Store) -> None:
        try:
            await self.reload(store)
        except Exception:
            log.warning("quota: reloading month totals failed; using the last ones", exc_info=True)

    async def close(self) -> None:
        await stop(self._reloading)
