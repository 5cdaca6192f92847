"""The in-process catalog: models and channels read from the store, refreshed off the path.

Requests only read the dicts built here; a refresh builds new dicts and swaps them in,
so a reader never sees a half-built catalog. Refreshes run one at a time, so an older one
cannot finish after a newer one and bring back what it replaced; a channel is served only
with its model, so a refresh that reads the models before a model is added and the channels
after its channel is added serves neither until the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import ClientTimeout, web

from adapters.base import Channel
from gateway.billing import Tariff
from gateway.keys import CATALOG, SETTINGS, STORE
from gateway.store.base import Store
from gateway.store.records import ApiKey, ChannelRow, Model
from gateway.tasks import stop

log = logging.getLogger(__name__)

MAX_LINK_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Route:
    """One channel as the request path needs it, built once per refresh."""

    row: ChannelRow
    code: str  # the row's, read on every request
    channel: Channel
    stream_timeout: ClientTimeout
    call_timeout: ClientTimeout
    tariff: Tariff  # the row's price, parsed


def make_route(row: ChannelRow, connect_timeout_s: float) -> Route:
    channel = Channel(
        code=row.code,
        protocol=row.protocol,
        url=row.url,
        deploy_name=row.deploy_name,
        credentials=row.credentials,
        timeout_s=row.timeout_s,
        options=row.options,
    )
    return Route(
        row=row,
        code=row.code,
        channel=channel,
        stream_timeout=ClientTimeout(connect=connect_timeout_s, sock_read=row.timeout_s),
        call_timeout=ClientTimeout(total=row.timeout_s, connect=connect_timeout_s),
        tariff=Tariff(row.price),
    )


class Catalog:
    def __init__(self, store: Store, *, connect_timeout_s: float = 10.0) -> None:
        self._store = store
        self._connect_timeout_s = connect_timeout_s
        self.models: dict[str, Model] = {}
        self.routes: dict[str, tuple[Route, ...]] = {}
        self.private: set[str] = set()  # models with a private channel: filter per key
        self._lock = asyncio.Lock()
        self._begun = 0  # refreshes begun so far
        self._fresh = 0  # the number of the last one that succeeded

    async def refresh(self) -> None:
        """Read the catalog again; on return it is at least as new as the store was when
        this was called. Calls made while a refresh runs share the one after it."""
        begun = self._begun
        async with self._lock:
            if self._fresh > begun:  # one began after this call and succeeded
                return
            self._begun += 1
            number = self._begun
            await self._load()
            self._fresh = number

    async def _load(self) -> None:
        models = {m.name: m for m in await self._store.list_models() if m.status == "active"}
        by_model: dict[str, list[Route]] = {}
        for row in await self._store.list_channels():
            if row.status == "active" and row.model in models:
                route = make_route(row, self._connect_timeout_s)
                by_model.setdefault(row.model, []).append(route)
        self.models = models
        self.routes = {name: tuple(routes) for name, routes in by_model.items()}
        self.private = {
            name
            for name, routes in by_model.items()
            if any(r.row.visibility != "public" for r in routes)
        }

    def resolve(self, name: str) -> Model | None:
        """The model a public name stands for, following `linked_to` aliases."""
        chain = self.chain(name)
        return chain[-1] if chain else None

    def chain(self, name: str) -> tuple[Model, ...]:
        """`name`'s model, then each model its `linked_to` leads to; () when one is missing
        or the chain is longer than `MAX_LINK_DEPTH` links."""
        model = self.models.get(name)
        chain: tuple[Model, ...] = ()
        for _ in range(MAX_LINK_DEPTH + 1):
            if model is None:
                return ()
            chain += (model,)
            if not model.linked_to:
                return chain
            model = self.models.get(model.linked_to)
        return ()

    def usable(self, name: str, key: ApiKey) -> Model | None:
        """The model `name` stands for, when `key` may see every model on the way to it."""
        chain = self.chain(name)
        if not chain or not all(self.visible(model, key) for model in chain):
            return None
        return chain[-1]

    def visible(self, model: Model, key: ApiKey) -> bool:
        return model.visibility == "public" or model.owner in (key.code, key.owner)

    def candidates(self, model: Model, key: ApiKey) -> tuple[Route, ...]:
        routes = self.routes.get(model.name, ())
        if model.name not in self.private:
            return routes
        return tuple(
            r
            for r in routes
            if r.row.visibility == "public" or r.row.owner in (key.code, key.owner)
        )


async def _refresh_forever(catalog: Catalog, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await catalog.refresh()
        except Exception:
            log.exception("catalog refresh failed; serving the previous catalog")


async def _catalog_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    catalog = Catalog(app[STORE], connect_timeout_s=settings.upstream.connect_timeout_s)
    await catalog.refresh()
    app[CATALOG] = catalog
    task = asyncio.create_task(_refresh_forever(catalog, 5.0))
    yield
    await stop(task)


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_catalog_ctx)
