"""Catalog refreshes: one at a time, never older than the call, a channel only with its model.

Several things refresh a process's catalog (its 5 s timer, a console change here, a change
another process announces); these run them against a store whose reads can be held, to
check what the catalog serves when they overlap.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.catalog import Catalog
from gateway.store.records import ChannelRow, Model


class HeldStore:
    """Models and channels as the test sets them; `hold` pauses the next channel read (the
    ones after it go on), `fail_once` fails the next one."""

    def __init__(self) -> None:
        self.models: list[Model] = []
        self.channels: list[ChannelRow] = []
        self.loads = 0
        self.fail_once = False
        self.held = asyncio.Event()  # set when a read is paused
        self.go = asyncio.Event()
        self._hold_next = False

    def hold(self) -> None:
        self.held.clear()
        self.go.clear()
        self._hold_next = True

    async def list_models(self) -> list[Model]:
        self.loads += 1
        return list(self.models)

    async def list_channels(self) -> list[ChannelRow]:
        channels = list(self.channels)  # read now; answered when released
        failing, self.fail_once = self.fail_once, False
        if self._hold_next:
            self._hold_next = False
            self.held.set()
            await self.go.wait()
        if failing:
            raise OSError("the database went away")
        return channels


def channel(code: str, model: str) -> ChannelRow:
    return ChannelRow(code, "openai", "http://127.0.0.1:9/v1", model=model)


def catalog_of(store: HeldStore) -> Catalog:
    return Catalog(store=store)  # type: ignore[arg-type]  # the two reads a refresh makes


def served(catalog: Catalog) -> dict[str, list[str]]:
    return {model: [r.code for r in routes] for model, routes in catalog.routes.items()}


async def held_refresh(store: HeldStore, catalog: Catalog) -> asyncio.Task[None]:
    """A refresh started and paused in its channel read (until `store.go` is set)."""
    store.hold()
    task = asyncio.create_task(catalog.refresh())
    await store.held.wait()
    return task


async def test_an_older_refresh_cannot_finish_after_a_newer_one() -> None:
    store = HeldStore()
    store.models = [Model("gpt")]
    store.channels = [channel("ch-old", "gpt")]
    catalog = catalog_of(store)
    older = await held_refresh(store, catalog)  # read ch-old, then waits
    store.channels = [channel("ch-new", "gpt")]  # a console change lands
    newer = asyncio.create_task(catalog.refresh())  # called after it: must see ch-new
    await asyncio.sleep(0.01)
    store.go.set()
    await asyncio.gather(older, newer)
    assert served(catalog) == {"gpt": ["ch-new"]}


async def test_calls_made_while_a_refresh_runs_share_the_one_after_it() -> None:
    store = HeldStore()
    store.models = [Model("gpt")]
    catalog = catalog_of(store)
    running = await held_refresh(store, catalog)
    store.channels = [channel("ch-1", "gpt")]
    waiting = [asyncio.create_task(catalog.refresh()) for _ in range(5)]
    await asyncio.sleep(0.01)
    store.go.set()
    await asyncio.gather(running, *waiting)
    assert store.loads == 2  # the one running, and one for the five that came during it
    assert served(catalog) == {"gpt": ["ch-1"]}


async def test_a_failed_refresh_does_not_stand_for_the_calls_waiting_behind_it() -> None:
    store = HeldStore()
    store.models = [Model("gpt")]
    store.channels = [channel("ch-old", "gpt")]
    catalog = catalog_of(store)
    running = await held_refresh(store, catalog)
    store.fail_once = True  # the next read, the first waiting call's, fails
    store.channels = [channel("ch-new", "gpt")]
    first = asyncio.create_task(catalog.refresh())
    await asyncio.sleep(0)
    second = asyncio.create_task(catalog.refresh())  # behind `first`, which begins after it
    await asyncio.sleep(0.01)
    store.go.set()
    await running
    with pytest.raises(OSError, match="went away"):
        await first
    await second  # not satisfied by the failed one: it read the catalog itself
    assert store.loads == 3
    assert served(catalog) == {"gpt": ["ch-new"]}


async def test_a_channel_is_served_only_with_its_model() -> None:
    store = HeldStore()
    store.channels = [channel("ch-1", "gpt"), channel("ch-2", "retired")]
    catalog = catalog_of(store)
    await catalog.refresh()  # the models were read before "gpt" was added
    assert served(catalog) == {}
    store.models = [Model("gpt"), Model("retired", status="inactive")]
    await catalog.refresh()
    assert served(catalog) == {"gpt": ["ch-1"]}
    assert set(catalog.models) == {"gpt"}
