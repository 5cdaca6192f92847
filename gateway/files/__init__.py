"""Stored files: one store (local directory or S3) per process, and its retention sweep.

`setup(app)` opens the configured store in a cleanup_ctx, puts a `Files` at `app[FILES]`,
and sweeps away old days every `files.sweep_interval_s` (first right after start-up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from gateway.files.base import FileStore
from gateway.files.local import LocalStore
from gateway.files.service import Files
from gateway.files.signing import Signer, derive_key
from gateway.keys import FILES, SETTINGS
from gateway.secretbox import load_master_key
from gateway.settings import Settings
from gateway.tasks import stop

log = logging.getLogger(__name__)


def signing_key(settings: Settings) -> bytes:
    if settings.files.secret:
        return settings.files.secret.encode()
    data_dir = Path(settings.server.data_dir)
    master = load_master_key(settings.secrets.master_key, data_dir, embedded=settings.embedded)
    return derive_key(master)


async def open_store(settings: Settings) -> FileStore:
    files = settings.files
    if files.backend == "s3":
        from gateway.files.s3 import S3Store

        return await S3Store.open(files)
    root = Path(files.dir) if files.dir else Path(settings.server.data_dir) / "files"
    return LocalStore(root)


async def sweep_forever(files: Files, every_s: float) -> None:
    while True:
        try:
            deleted = await files.sweep()
        except Exception:
            log.exception("file retention sweep failed; trying again later")
        else:
            if deleted:
                log.info("file retention sweep deleted %d files", deleted)
        await asyncio.sleep(every_s)


async def _files_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = await open_store(settings)
    files = Files(
        store,
        Signer(signing_key(settings)),
        url_ttl_s=settings.files.url_ttl_s,
        retention_days=settings.files.retention_days,
    )
    app[FILES] = files
    sweeper = asyncio.create_task(sweep_forever(files, settings.files.sweep_interval_s))
    try:
        yield
    finally:
        await stop(sweeper)
        await store.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_files_ctx)
