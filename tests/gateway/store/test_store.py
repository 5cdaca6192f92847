"""Schema, api keys and catalog on both backends (see conftest: every test runs twice)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet

from gateway.secretbox import SecretBox, SecretBoxError
from gateway.store import open_store
from gateway.store.base import DuplicateError, Store
from gateway.store.records import ApiKey, Category, ChannelRow, Endpoint, Model
from gateway.store.schema import LATEST_VERSION, migrations
from tests.gateway.store.conftest import Backend

EVIL = "x'); DROP TABLE model; --"


def make_key(code: str = "ak-1", sha: str = "a" * 64) -> ApiKey:
    return ApiKey(code=code, sha256=sha, mask="sk-ab****wxyz")


CHANNEL = ChannelRow(
    code="ch-1",
    protocol="openai",
    url="https://api.example.com/v1",
    model="gpt-4o",
    credentials={"api_key": "sk-plaintext-secret-123"},
)


async def test_migrate_is_idempotent(fresh_store: Store, backend: Backend) -> None:
    assert await fresh_store.schema_version() == 0
    assert await fresh_store.migrate() == [m.version for m in migrations(backend.name)]
    assert await fresh_store.migrate() == []
    assert await fresh_store.schema_version() == LATEST_VERSION
    rows = backend.raw("SELECT version FROM schema_migrations")
    assert sorted(r[0] for r in rows) == [m.version for m in migrations(backend.name)]


async def test_ping(store: Store) -> None:
    await store.ping()


async def test_apikey_insert_and_lookup(store: Store) -> None:
    key = replace(make_key(), name="batch", role="high", qps=5, month_quota=Decimal("12.5"))
    await store.insert_apikey(key)
    child = replace(make_key("ak-2", "b" * 64), parent_code="ak-1", created_at=2e9)
    await store.insert_apikey(child)

    found = await store.apikey_by_hash("a" * 64)
    assert found is not None
    assert found.created_at > 0  # 0 means "now"
    assert found == replace(key, created_at=found.created_at)
    assert found.month_quota == Decimal("12.5")
    assert await store.apikey_by_code("ak-2") == await store.apikey_by_hash("b" * 64)
    assert await store.apikey_by_code("ak-2") == child
    assert await store.apikey_by_code("ak-404") is None
    assert await store.apikey_by_hash("c" * 64) is None
    assert [k.code for k in await store.list_apikeys()] == ["ak-1", "ak-2"]


async def test_apikey_duplicates(store: Store) -> None:
    await store.insert_apikey(make_key())
    with pytest.raises(DuplicateError):
        await store.insert_apikey(make_key("ak-1", "f" * 64))  # same code
    with pytest.raises(DuplicateError):
        await store.insert_apikey(make_key("ak-other", "a" * 64))  # same sha256
    assert len(await store.list_apikeys()) == 1


async def test_apikey_status(store: Store) -> None:
    await store.insert_apikey(make_key())
    assert await store.set_apikey_status("ak-1", "inactive") is True
    assert await store.set_apikey_status("ak-1", "inactive") is True  # unchanged, still found
    assert (await store.apikey_by_code("ak-1") or make_key()).status == "inactive"
    assert await store.set_apikey_status("ak-missing", "inactive") is False


async def test_catalog_upserts_are_idempotent(store: Store) -> None:
    await store.upsert_category(Category("text/chat", "Chat"))
    await store.upsert_category(Category("text/chat", "Chat completions"))
    await store.upsert_endpoint(Endpoint("/v1/chat/completions", "chat", "text/chat"))
    endpoint = Endpoint("/v1/chat/completions", "chat", "text/chat", "1k_tokens", "inactive")
    await store.upsert_endpoint(endpoint)
    await store.upsert_model(Model("gpt-4o", endpoints=("/v1/chat/completions",)))
    model = Model(
        "gpt-4o",
        endpoints=("/v1/chat/completions", "/v1/messages"),
        features={"stream": True, "function_call": True},
        properties={"max_input_context": 128000},
        linked_to="gpt-4o-2024-08-06",
        visibility="private",
        owner="team-a",
    )
    await store.upsert_model(model)

    assert await store.list_categories() == [Category("text/chat", "Chat completions")]
    assert await store.list_endpoints() == [endpoint]
    assert await store.list_models() == [model]


async def test_channel_upsert_round_trip(store: Store) -> None:
    await store.upsert_channel(CHANNEL)
    channel = replace(
        CHANNEL,
        deploy_name="gpt-4o-2024-08-06",
        weight=10,
        priority="high",
        max_concurrency=8,
        timeout_s=30.5,
        price={"input": "2.5", "output": "10", "cached": Decimal("1.25")},
        options={"headers": {"X-A": "1"}, "function_call_simulate": True},
        visibility="private",
        owner="team-a",
    )
    await store.upsert_channel(channel)
    speech = replace(CHANNEL, code="ch-asr", model=None, endpoint="/v1/audio/asr/stream")
    await store.upsert_channel(speech)

    stored = await store.list_channels()
    # Decimal values inside JSON come back as strings (JSON has no exact decimal).
    expected_price = {"input": "2.5", "output": "10", "cached": "1.25"}
    assert stored == [replace(channel, price=expected_price), speech]


async def test_credentials_are_encrypted_at_rest(
    store: Store, backend: Backend, box: SecretBox
) -> None:
    await store.upsert_channel(CHANNEL)
    [(raw,)] = backend.raw("SELECT credentials FROM channel WHERE code = 'ch-1'")
    assert "sk-plaintext-secret-123" not in raw
    assert "api_key" not in raw
    assert box.decrypt(raw) == {"api_key": "sk-plaintext-secret-123"}
    [channel] = await store.list_channels()
    assert channel.credentials == {"api_key": "sk-plaintext-secret-123"}


async def test_wrong_master_key_is_a_clear_error(store: Store, backend: Backend) -> None:
    await store.upsert_channel(CHANNEL)
    other = await open_store(backend.url, SecretBox.from_key(Fernet.generate_key().decode()))
    try:
        with pytest.raises(SecretBoxError, match="master_key"):
            await other.list_channels()
    finally:
        await other.close()


async def test_sql_metacharacters_are_harmless(store: Store, backend: Backend) -> None:
    await store.upsert_model(Model(EVIL, features={EVIL: EVIL}, owner="o'brien"))
    await store.upsert_category(Category("a%s?b", "50% ?"))
    assert await store.list_models() == [Model(EVIL, features={EVIL: EVIL}, owner="o'brien")]
    assert await store.list_categories() == [Category("a%s?b", "50% ?")]
    assert await store.apikey_by_code("' OR '1'='1") is None
    assert backend.raw("SELECT COUNT(*) FROM model") == [(1,)]


async def test_names_are_case_sensitive(store: Store) -> None:
    await store.upsert_model(Model("GPT-4o"))
    await store.upsert_model(Model("gpt-4o"))
    assert [m.name for m in await store.list_models()] == ["GPT-4o", "gpt-4o"]
