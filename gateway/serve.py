"""`bella-gateway serve`: one process, or a supervisor and `--workers N` processes on one port."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gateway import shutdown
from gateway.app import create_app
from gateway.database import SchemaBehind, open_configured_store, prepare
from gateway.settings import Settings
from gateway.supervisor import Supervisor, reset_multiproc_dir

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
MULTIPROC_ENV = ("PROMETHEUS_MULTIPROC_DIR", "BELLA_METRICS_MULTIPROC_DIR")


@dataclass(frozen=True, slots=True)
class ServeOptions:
    host: str
    port: int
    workers: int
    config: str | None = None
    worker_of: int | None = None  # set in a worker: its supervisor's pid


def serve(
    settings: Settings, options: ServeOptions, environ: Mapping[str, str], loop: LoopFactory
) -> int:
    if options.worker_of is not None:
        return _run(settings, options, loop)
    if options.workers > 1:
        return _supervise(settings, options, environ)
    metrics = dataclasses.replace(settings.metrics, multiproc_dir="")
    return _run(dataclasses.replace(settings, metrics=metrics), options, loop)


GC_YOUNG_THRESHOLD = 20_000


def _run(settings: Settings, options: ServeOptions, loop: LoopFactory) -> int:
    """Serve until SIGTERM/SIGINT, drain, exit 0."""
    app = create_app(settings)
    app.on_startup.append(_freeze_heap)
    shutdown.handle_signals(app)
    worker = options.worker_of is not None
    if options.worker_of is not None:
        shutdown.watch_parent(app, options.worker_of)
    where = f"http://{options.host}:{options.port}"
    banner = f"bella-gateway worker {os.getpid()} serving on {where}" if worker else None
    web.run_app(
        app,
        host=options.host,
        port=options.port,
        access_log=None,
        loop=loop(),
        handle_signals=False,
        reuse_port=worker or None,
        shutdown_timeout=shutdown.GRACE_S,  # the drain (on_shutdown) has already waited
        print=lambda _: print(banner or f"bella-gateway serving on {where}", flush=True),
    )
    return 0


async def _freeze_heap(app: web.Application) -> None:
    """Move what start-up built (catalog, metrics, modules) out of the collector's way: the
    request path then pays for young objects only. Fewer, larger young collections suit a
    server whose requests allocate many short-lived objects."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def _supervise(settings: Settings, options: ServeOptions, environ: Mapping[str, str]) -> int:
    try:  # once, before the workers would race for the schema and the master key
        asyncio.run(_prepare(settings))
    except SchemaBehind as exc:
        print(f"bella-gateway: {exc}", file=sys.stderr)
        return 1
    directory = multiproc_dir(settings)
    reset_multiproc_dir(directory)
    env = {**environ, **dict.fromkeys(MULTIPROC_ENV, str(directory))}
    supervisor = Supervisor(
        lambda: worker_argv(options, os.getpid()),
        env,
        workers=options.workers,
        stop_timeout_s=settings.server.shutdown_timeout_s + shutdown.GRACE_S,
        multiproc_dir=directory,
    )
    print(
        f"bella-gateway supervising {options.workers} workers on "
        f"http://{options.host}:{options.port}",
        flush=True,
    )
    return asyncio.run(supervisor.run())


async def _prepare(settings: Settings) -> None:
    store = await open_configured_store(settings)
    try:
        await prepare(store, settings, migrate=settings.embedded)
    finally:
        await store.close()


def multiproc_dir(settings: Settings) -> Path:
    configured = settings.metrics.multiproc_dir
    return Path(configured or Path(settings.server.data_dir) / "metrics").resolve()


def worker_argv(options: ServeOptions, supervisor_pid: int) -> list[str]:
    argv = [sys.executable, "-m", "gateway"]
    if options.config:
        argv += ["--config", options.config]
    argv += ["serve", "--host", options.host, "--port", str(options.port)]
    return [*argv, "--worker-of", str(supervisor_pid)]
