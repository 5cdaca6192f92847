"""The store as a resource: opened from settings, migrated or checked, catalog applied."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from gateway.declare import apply_catalog, seed_endpoints
from gateway.keys import SETTINGS, STORE
from gateway.secretbox import SecretBox, load_master_key
from gateway.settings import Settings
from gateway.store import open_store
from gateway.store.base import Store
from gateway.store.schema import LATEST_VERSION


class SchemaBehind(RuntimeError):
    """The database is older than the code; `bella-gateway migrate` brings it up."""


async def open_configured_store(settings: Settings) -> Store:
    key = load_master_key(
        settings.secrets.master_key, Path(settings.server.data_dir), embedded=settings.embedded
    )
    return await open_store(settings.database_url, SecretBox.from_key(key))


async def prepare(store: Store, settings: Settings, *, migrate: bool) -> None:
    """Bring the schema up (or check it is), then apply the endpoints and the config catalog."""
    if migrate:
        await store.migrate()
    else:
        version = await store.schema_version()
        if version < LATEST_VERSION:
            raise SchemaBehind(
                f"database schema is at version {version}, this gateway needs {LATEST_VERSION}: "
                "run `bella-gateway migrate`"
            )
    await seed_endpoints(store)
    await apply_catalog(store, settings.catalog)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = await open_configured_store(settings)
    try:
        await prepare(store, settings, migrate=settings.embedded)
    except BaseException:
        await store.close()
        raise
    app[STORE] = store
    yield
    await store.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_store_ctx)
