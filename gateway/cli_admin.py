"""`bella-gateway admin grant --email …`: console access for a person, before anyone can log in.

The first admin is made here (or by the system key through POST /console/users); they then
log in with a configured provider under that email. `--role none` takes access away.
"""

from __future__ import annotations

import argparse
import sys

from gateway.errors import GatewayError
from gateway.login.users import ROLES, grant
from gateway.store.base import Store
from gateway.store.records import AuditEntry


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("admin", help="manage console users")
    actions = parser.add_subparsers(dest="action", required=True)
    granting = actions.add_parser("grant", help="give an email console access")
    granting.add_argument("--email", required=True)
    granting.add_argument("--role", choices=ROLES, default="admin")


async def run(store: Store, args: argparse.Namespace) -> int:
    await store.migrate()
    try:
        before, after = await grant(store, args.email, args.role)
    except GatewayError as exc:
        print(f"bella-gateway: {exc.message}", file=sys.stderr)
        return 1
    await store.insert_audit(
        AuditEntry(
            actor="cli",
            entity="user",
            entity_id=after.code,
            action="grant",
            before=None if before is None else {"email": before.email, "role": before.role},
            after={"email": after.email, "role": after.role},
        )
    )
    print(f"user {after.code} {after.email}: role {after.role}")
    return 0
