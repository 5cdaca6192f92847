"""`bella-gateway`: serve, init, migrate, apikey. Only this module reads argv and environ."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation

from aiohttp import web

from gateway.apikeys import make_key
from gateway.app import create_app
from gateway.database import open_configured_store, prepare
from gateway.declare import DEMO_CATALOG, CatalogError, apply_catalog
from gateway.roles import ROLES
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
    init = commands.add_parser("init", help="create or upgrade the schema, make the system key")
    init.add_argument("--demo", action="store_true", help="declare the mock demo models")
    commands.add_parser("migrate", help="apply pending schema migrations")
    _apikey_parser(commands.add_parser("apikey", help="manage API keys"))
    return parser


def _apikey_parser(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", default="low", choices=sorted(ROLES))
    create.add_argument("--parent", help="code of the parent key")
    create.add_argument("--qps", type=int, default=0)
    create.add_argument("--concurrency", type=int, default=0)
    create.add_argument("--month-quota", type=_amount)
    actions.add_parser("list", help="list keys (masked)")
    revoke = actions.add_parser("revoke", help="deactivate a key")
    revoke.add_argument("code")


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("an amount must be ≥ 0")
    return value


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    loop_factory: LoopFactory | None = None,
) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings(args.config, os.environ if environ is None else environ)
    except SettingsError as exc:
        print(f"bella-gateway: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args, loop_factory or asyncio.new_event_loop)
    try:
        return asyncio.run(_offline(settings, args))
    except (CatalogError, ValueError) as exc:
        print(f"bella-gateway: {exc}", file=sys.stderr)
        return 1


def _serve(settings: Settings, args: argparse.Namespace, loop_factory: LoopFactory) -> int:
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    web.run_app(
        create_app(settings),
        host=host,
        port=port,
        access_log=None,
        loop=loop_factory(),
        print=lambda text: print(f"bella-gateway serving on http://{host}:{port}", flush=True),
    )
    return 0


async def _offline(settings: Settings, args: argparse.Namespace) -> int:
    store = await open_configured_store(settings)
    try:
        if args.command == "apikey":
            return await _apikey(store, args)
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


async def _apikey(store: Store, args: argparse.Namespace) -> int:
    if args.action == "create":
        secret, row = make_key(
            name=args.name,
            role=args.role,
            parent_code=args.parent,
            qps=args.qps,
            concurrency=args.concurrency,
            month_quota=args.month_quota,
        )
        await store.insert_apikey(row)
        print(f"key {row.code} (shown once, keep it safe):\n{secret}")
        return 0
    if args.action == "list":
        for key in await store.list_apikeys():
            print(f"{key.code}\t{key.mask}\t{key.role}\t{key.status}\t{key.name}")
        return 0
    if not await store.set_apikey_status(args.code, "inactive"):
        print(f"bella-gateway: no key {args.code}", file=sys.stderr)
        return 1
    print(f"key {args.code} deactivated")
    return 0


def _safe_url(url: str) -> str:
    """The database URL without its password, for printing."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
