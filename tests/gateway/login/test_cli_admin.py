"""`bella-gateway admin grant --email …` makes the first admin, who can then log in."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.cli import main
from gateway.database import open_configured_store
from gateway.settings import load_settings
from gateway.store.records import AuditEntry, User


async def read(env: dict[str, str]) -> tuple[User | None, list[AuditEntry]]:
    store = await open_configured_store(load_settings(None, env))
    try:
        return await store.user_by_email("root@example.com"), await store.list_audit()
    finally:
        await store.close()


def test_admin_grant_creates_and_changes_a_user(tmp_path: Path) -> None:
    env = {"BELLA_SERVER_DATA_DIR": str(tmp_path / "data")}
    assert main(["admin", "grant", "--email", "Root@Example.com"], env) == 0
    user, _ = asyncio.run(read(env))
    assert user is not None
    assert user.role == "admin"
    assert main(["admin", "grant", "--email", "root@example.com", "--role", "none"], env) == 0
    assert main(["admin", "grant", "--email", "not-an-email"], env) == 1
    user, audit = asyncio.run(read(env))
    assert user is not None
    assert user.role == "none"
    assert [(a.actor, a.entity, a.action) for a in audit] == [("cli", "user", "grant")] * 2
