"""`bella-gateway`: serve, init, migrate, apikey. Only this module reads argv and environ."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from gateway import cli_admin, cli_keys
from gateway.apikeys import make_key
from gateway.database import open_configured_store, prepare
from gateway.declare import DEMO_CATALOG, CatalogError, apply_catalog
from gateway.serve import ServeOptions, serve
from gateway.settings import Settings, SettingsError, load_settings
from gateway.store.base import Store

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bella-gateway", description=__doc__)
    parser.add_argument("--config", help="YAML config file (default: $BELLA_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the gateway")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="worker processes (default: server.workers)")
    serve.add_argument("--worker-of", type=int, help=argparse.SUPPRESS)  # set by the supervisor
    init = commands.add_parser("init", help="create or upgrade the schema, make the system key")
    init.add_argument("--demo", action="store_true", help="declare the mock demo models")
    commands.add_parser("migrate", help="apply pending schema migrations")
    cli_keys.add_parser(commands)
    cli_admin.add_parser(commands)
    return parser


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    loop_factory: LoopFactory | None = None,
) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    environ = os.environ if environ is None else environ
    try:
        settings = load_settings(args.config, environ)
    except SettingsError as exc:
        print(f"bella-gateway: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args, environ, loop_factory or asyncio.new_event_loop)
    try:
        return asyncio.run(_offline(settings, args))
    except (CatalogError, ValueError) as exc:
        print(f"bella-gateway: {exc}", file=sys.stderr)
        return 1


def _serve(
    settings: Settings,
    args: argparse.Namespace,
    environ: Mapping[str, str],
    loop_factory: LoopFactory,
) -> int:
    options = ServeOptions(
        host=args.host or settings.server.host,
        port=args.port or settings.server.port,
        workers=args.workers or settings.server.workers,
        config=args.config,
        worker_of=args.worker_of,
    )
    if options.workers < 1:
        print("bella-gateway: --workers must be at least 1", file=sys.stderr)
        return 2
    return serve(settings, options, environ, loop_factory)


async def _offline(settings: Settings, args: argparse.Namespace) -> int:
    store = await open_configured_store(settings)
    try:
        if args.command == "apikey":
            return await cli_keys.run(store, args)
        if args.command == "admin":
            return await cli_admin.run(store, args)
        await prepare(store, settings, migrate=True)
        version = await store.schema_version()
        print(f"schema at version {version} ({_safe_url(settings.database_url)})")
        if args.command == "init":
            await _init(store, demo=args.demo)
        return 0
    finally:
        await store.close()


async def _init(store: Store, *, demo: bool) -> None:
    if demo:
        models, channels = await apply_catalog(store, DEMO_CATALOG)
        print(f"demo catalog: {models} model(s), {channels} channel(s)")
    existing = [k for k in await store.list_apikeys() if k.role == "all" and k.parent_code is None]
    if existing:
        print(
            f"system key exists ({existing[0].code}); make more with `bella-gateway apikey create`"
        )
        return
    secret, row = make_key(name="system", role="all")
    await store.insert_apikey(row)
    print(f"system key {row.code} (shown once, keep it safe):\n{secret}")


def _safe_url(url: str) -> str:
    """The database URL without its password, for printing."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
