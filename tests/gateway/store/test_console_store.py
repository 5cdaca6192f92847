"""The console's store additions on both backends: one-row reads, creates, users, audit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.store.base import DuplicateError, Store
from gateway.store.records import AuditEntry, Category, ChannelRow, Endpoint, Model, User

CHANNEL = ChannelRow(
    code="ch-1",
    protocol="openai",
    url="https://api.example.com/v1",
    model="gpt-4o",
    credentials={"api_key": "sk-plaintext-secret-123"},
)


async def test_catalog_rows_are_created_once_and_read_by_id(store: Store) -> None:
    await store.insert_category(Category("text/chat", "Chat"))
    await store.insert_endpoint(Endpoint("/v1/x", "chat"))
    await store.insert_model(Model("gpt-4o", endpoints=("/v1/x",)))
    await store.insert_channel(CHANNEL)
    for again in (
        store.insert_category(Category("text/chat")),
        store.insert_endpoint(Endpoint("/v1/x", "chat")),
        store.insert_model(Model("gpt-4o")),
        store.insert_channel(CHANNEL),
    ):
        with pytest.raises(DuplicateError):
            await again
    assert await store.get_category("text/chat") == Category("text/chat", "Chat")
    assert await store.get_endpoint("/v1/x") == Endpoint("/v1/x", "chat")
    assert await store.get_model("gpt-4o") == Model("gpt-4o", endpoints=("/v1/x",))
    assert await store.get_channel("ch-1") == CHANNEL
    assert await store.get_model("nope") is None
    await store.upsert_category(Category("text/chat", "Chat", status="inactive"))
    assert (await store.list_categories())[0].status == "inactive"


async def test_users(store: Store) -> None:
    ann = User(code="u-1", email="ann@example.com", role="admin", created_at=1.0)
    await store.insert_user(ann)
    with pytest.raises(DuplicateError):
        await store.insert_user(replace(ann, code="u-2"))
    assert await store.user_by_email("ann@example.com") == ann
    changed = replace(ann, role="none", sessions_valid_after=5.5, provider="github")
    assert await store.update_user(changed)
    assert await store.update_user(changed)  # unchanged still counts as found
    assert await store.user_by_code("u-1") == changed
    assert not await store.update_user(replace(ann, code="u-x"))
    assert await store.list_users() == [changed]


async def test_audit_filters_and_pages(store: Store) -> None:
    for i, (actor, entity) in enumerate([("a", "model"), ("b", "channel"), ("a", "channel")]):
        await store.insert_audit(AuditEntry(actor, entity, f"x{i}", "create", created_at=10.0 + i))
    everything = await store.list_audit()
    assert [e.entity_id for e in everything] == ["x2", "x1", "x0"]
    assert everything[0].id > everything[1].id > everything[2].id > 0
    assert [e.entity_id for e in await store.list_audit(entity="channel")] == ["x2", "x1"]
    assert [e.entity_id for e in await store.list_audit(actor="a")] == ["x2", "x0"]
    assert [e.entity_id for e in await store.list_audit(since=11.0)] == ["x2", "x1"]
    page = await store.list_audit(1, before_id=everything[0].id)
    assert [e.entity_id for e in page] == ["x1"]
    assert await store.list_audit(entity="channel", actor="b", since=12.0) == []
