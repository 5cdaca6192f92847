"""`bella-gateway apikey …`: the key commands, on the same rules as the HTTP routes."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation

from gateway.errors import GatewayError
from gateway.keyadmin import KeyLimitsSpec, create_key, get_key, reset_key, update_key
from gateway.roles import ROLES
from gateway.store.base import Store
from gateway.store.records import ApiKey, Status


def amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError("an amount must be ≥ 0")
    return value


def _limit_flags(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    parser.add_argument("--role", choices=sorted(ROLES), default="low" if defaults else None)
    parser.add_argument("--qps", type=int, default=0 if defaults else None)
    parser.add_argument("--concurrency", type=int, default=0 if defaults else None)
    parser.add_argument("--month-quota", type=amount)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("apikey", help="manage API keys")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--parent", help="code of the parent key")
    _limit_flags(create, defaults=True)
    actions.add_parser("list", help="list keys (masked)")
    for name, text in (
        ("revoke", "deactivate a key"),
        ("activate", "reactivate a key"),
        ("reset", "give a key a new secret (printed once)"),
    ):
        actions.add_parser(name, help=text).add_argument("code")
    rename = actions.add_parser("rename", help="rename a key")
    rename.add_argument("code")
    rename.add_argument("name")
    update = actions.add_parser("update", help="change a key's role and limits")
    update.add_argument("code")
    _limit_flags(update, defaults=False)


async def run(store: Store, args: argparse.Namespace) -> int:
    try:
        return await _run(store, args)
    except GatewayError as exc:
        print(f"bella-gateway: {exc.message}", file=sys.stderr)
        return 1


def _line(key: ApiKey) -> str:
    quota = "-" if key.month_quota is None else str(key.month_quota)
    limits = f"qps={key.qps} concurrency={key.concurrency} quota={quota}"
    fields = (key.code, key.mask, key.role, key.status, key.parent_code or "-", limits, key.name)
    return "\t".join(fields)


async def _run(store: Store, args: argparse.Namespace) -> int:
    action = args.action
    if action == "create":
        spec = KeyLimitsSpec(args.role, args.qps, args.concurrency, args.month_quota)
        parent = await get_key(store, args.parent) if args.parent else None
        secret, row = await create_key(store, args.name, spec, parent)
        print(f"key {row.code} (shown once, keep it safe):\n{secret}")
    elif action == "list":
        for key in await store.list_apikeys():
            print(_line(key))
    elif action == "reset":
        secret, row = await reset_key(store, await get_key(store, args.code))
        print(f"key {row.code} has a new secret (shown once):\n{secret}")
    else:
        row = await _change(store, args)
        print(_line(row))
    return 0


async def _change(store: Store, args: argparse.Namespace) -> ApiKey:
    key = await get_key(store, args.code)
    if args.action in ("revoke", "activate"):
        status: Status = "inactive" if args.action == "revoke" else "active"
        return await update_key(store, key, name=None, spec=None, status=status)
    if args.action == "rename":
        return await update_key(store, key, name=args.name, spec=None, status=None)
    spec = KeyLimitsSpec(
        role=args.role or key.role,
        qps=key.qps if args.qps is None else args.qps,
        concurrency=key.concurrency if args.concurrency is None else args.concurrency,
        month_quota=key.month_quota if args.month_quota is None else args.month_quota,
    )
    return await update_key(store, key, name=None, spec=spec, status=None)
