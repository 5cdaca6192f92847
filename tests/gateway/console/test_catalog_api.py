"""/console/{categories,endpoints,models,channels}: CRUD, validation, secrets, live state."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.fakes.openai_upstream import API_KEY, FakeOpenAI
from tests.gateway.console.client import api
from tests.harness import Gateway, gateway_settings, running_gateway

CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


def channel_body(url: str, **fields: Any) -> dict[str, Any]:
    return {
        "code": "ch-fake",
        "model": "gpt-test",
        "protocol": "openai",
        "url": url,
        "credentials": {"api_key": API_KEY},
        "deploy_name": "gpt-upstream",
        "max_concurrency": 4,
        "price": {"input": "1", "output": "2"},
        **fields,
    }


async def test_categories_crud(gateway: Gateway) -> None:
    status, made = await api(gateway, "POST", "/console/categories", body={"code": "text/chat"})
    assert (status, made) == (201, {"code": "text/chat", "name": "", "status": "active"})
    path = "/console/categories/" + quote("text/chat", safe="")
    status, changed = await api(gateway, "PATCH", path, body={"name": "Chat"})
    assert (status, changed["name"]) == (200, "Chat")
    status, off = await api(gateway, "POST", path + "/deactivate")
    assert (status, off["status"]) == (200, "inactive")
    status, on = await api(gateway, "POST", path + "/activate")
    assert on["status"] == "active"
    assert (await api(gateway, "GET", path))[1]["name"] == "Chat"
    _, listed = await api(gateway, "GET", "/console/categories")
    assert [c["code"] for c in listed["data"]] == ["text/chat"]
    status, error = await api(gateway, "POST", "/console/categories", body={"code": "text/chat"})
    assert (status, error["error"]["code"]) == (400, "duplicate")
    status, error = await api(gateway, "POST", "/console/categories", body={"code": "Bad Code"})
    assert (status, error["error"]["param"]) == (400, "code")


async def test_endpoints_crud(gateway: Gateway) -> None:
    _, listed = await api(gateway, "GET", "/console/endpoints")
    assert "/v1/chat/completions" in [e["path"] for e in listed["data"]]
    body = {"path": "/v1/rerank", "kind": "embedding", "category": "text", "unit": "1k_tokens"}
    assert (await api(gateway, "POST", "/console/endpoints", body=body))[0] == 201
    path = "/console/endpoints/" + quote("/v1/rerank", safe="")
    status, changed = await api(gateway, "PATCH", path, body={"category": "text/rerank"})
    assert (status, changed["category"]) == (200, "text/rerank")
    status, error = await api(gateway, "PATCH", path, body={"kind": "telepathy"})
    assert (status, error["error"]["param"]) == (400, "kind")
    status, error = await api(gateway, "POST", "/console/endpoints", body={**body, "path": "x"})
    assert (status, error["error"]["param"]) == (400, "path")
    assert (await api(gateway, "POST", path + "/deactivate"))[1]["status"] == "inactive"


async def test_models_crud_and_references(gateway: Gateway) -> None:
    body = {"name": "gpt-test", "features": {"stream": True}, "properties": {"context": 8192}}
    status, made = await api(gateway, "POST", "/console/models", body=body)
    assert status == 201
    assert made["endpoints"] == ["/v1/chat/completions"]
    assert made["features"] == {"stream": True}
    alias = {"name": "gpt-alias", "linked_to": "gpt-test", "visibility": "private", "owner": "x"}
    assert (await api(gateway, "POST", "/console/models", body=alias))[0] == 201
    for bad, param in [
        ({"name": "m1", "linked_to": "nope"}, "linked_to"),
        ({"name": "m2", "endpoints": ["/v1/nope"]}, "endpoints"),
        ({"name": "m3", "visibility": "secret"}, "visibility"),
        ({"name": "a,b"}, "name"),
        ({"name": "m4", "colour": "red"}, "colour"),
    ]:
        status, error = await api(gateway, "POST", "/console/models", body=bad)
        assert (status, error["error"]["param"]) == (400, param), bad
        assert error["error"]["type"] == "invalid_request_error"
    status, error = await api(gateway, "PATCH", "/console/models/gpt-test", body={"name": "x"})
    assert (status, error["error"]["param"]) == (400, "name")
    status, _ = await api(gateway, "GET", "/console/models/nope")
    assert status == 404
    status, changed = await api(gateway, "PATCH", "/console/models/gpt-alias", body={"owner": ""})
    assert (status, changed["linked_to"], changed["owner"]) == (200, "gpt-test", "")


async def test_channel_validation_answers_clear_400s(gateway: Gateway) -> None:
    await api(gateway, "POST", "/console/models", body={"name": "gpt-test"})
    base = channel_body("https://up.example/v1")
    changes: list[tuple[dict[str, Any], str]] = [
        ({"protocol": "carrier-pigeon"}, "protocol"),
        ({"url": "not a url"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"weight": -1}, "weight"),
        ({"weight": "heavy"}, "weight"),
        ({"max_concurrency": -3}, "max_concurrency"),
        ({"priority": "urgent"}, "priority"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"model": "no-such-model"}, "model"),
        ({"credentials": "sk-in-a-string"}, "credentials"),
    ]
    for change, param in changes:
        status, error = await api(gateway, "POST", "/console/channels", body={**base, **change})
        assert (status, error["error"]["param"]) == (400, param), change
        assert error["error"]["message"]
    assert (await api(gateway, "POST", "/console/channels", body=base))[0] == 201
    status, error = await api(gateway, "POST", "/console/channels", body=base)
    assert (status, error["error"]["code"], error["error"]["param"]) == (400, "duplicate", "code")


async def test_channel_credentials_are_write_only(gateway: Gateway, upstream: FakeOpenAI) -> None:
    await api(gateway, "POST", "/console/models", body={"name": "gpt-test"})
    status, made = await api(gateway, "POST", "/console/channels", body=channel_body(upstream.url))
    assert status == 201
    assert made["credentials"] == {"api_key": "****6789"}
    for path in ("/console/channels", "/console/channels/ch-fake", "/console/audit"):
        _, shown = await api(gateway, "GET", path)
        assert API_KEY not in str(shown), path
    status, changed = await api(
        gateway, "PATCH", "/console/channels/ch-fake", body={"weight": 5, "deploy_name": "v2"}
    )
    assert (status, changed["weight"], changed["deploy_name"]) == (200, 5, "v2")
    row = await gateway.store.get_channel("ch-fake")
    assert row is not None
    assert row.credentials == {"api_key": API_KEY}  # a PATCH without credentials keeps them
    new_secret = "sk-rotated-credential-9999"
    await api(
        gateway, "PATCH", "/console/channels/ch-fake", body={"credentials": {"api_key": new_secret}}
    )
    row = await gateway.store.get_channel("ch-fake")
    assert row is not None
    assert row.credentials == {"api_key": new_secret}
    _, audit = await api(gateway, "GET", "/console/audit?entity=channel")
    assert new_secret not in str(audit)
    assert [e["action"] for e in audit["data"]] == ["update", "update", "create"]


async def test_a_new_channel_serves_at_once_and_shows_live_state(
    gateway: Gateway, upstream: FakeOpenAI
) -> None:
    await api(gateway, "POST", "/console/models", body={"name": "gpt-test"})
    await api(gateway, "POST", "/console/channels", body=channel_body(upstream.url))
    status, answer = await api(gateway, "POST", "/v1/chat/completions", body=CHAT)
    assert status == 200, answer
    assert upstream.requests[-1]["model"] == "gpt-upstream"
    _, listed = await api(gateway, "GET", "/console/channels")
    [fake] = [c for c in listed["data"] if c["code"] == "ch-fake"]
    assert fake["state"] == {
        "routed": True,
        "slots_in_use": 0,
        "slots_held_here": 0,
        "slots_limit": 4,
        "queue_depth": 0,
        "cooldown_s": 0.0,
    }
    await api(gateway, "POST", "/console/channels/ch-fake/deactivate")
    status, error = await api(gateway, "POST", "/v1/chat/completions", body=CHAT)
    assert status in (404, 503), error
    _, shown = await api(gateway, "GET", "/console/channels/ch-fake")
    assert (shown["status"], shown["state"]["routed"]) == ("inactive", False)


async def test_slots_in_use_and_cooldown_are_live(gateway: Gateway, upstream: FakeOpenAI) -> None:
    import asyncio

    await api(gateway, "POST", "/console/models", body={"name": "gpt-test"})
    await api(gateway, "POST", "/console/channels", body=channel_body(upstream.url))
    upstream.delay_s = 0.5
    call = asyncio.create_task(api(gateway, "POST", "/v1/chat/completions", body=CHAT))
    for _ in range(50):
        await asyncio.sleep(0.02)
        _, shown = await api(gateway, "GET", "/console/channels/ch-fake")
        if shown["state"]["slots_in_use"]:
            break
    assert (shown["state"]["slots_in_use"], shown["state"]["slots_held_here"]) == (1, 1)
    await call
    upstream.delay_s, upstream.fail_with, upstream.retry_after = 0, 429, "30"
    await api(gateway, "POST", "/v1/chat/completions", body=CHAT)
    _, shown = await api(gateway, "GET", "/console/channels/ch-fake")
    assert 25 < shown["state"]["cooldown_s"] <= 30


async def test_test_call_reports_the_upstream(gateway: Gateway, upstream: FakeOpenAI) -> None:
    await api(gateway, "POST", "/console/models", body={"name": "gpt-test"})
    await api(gateway, "POST", "/console/channels", body=channel_body(upstream.url))
    status, result = await api(gateway, "POST", "/console/channels/ch-fake/test")
    assert (status, result["ok"], result["status"]) == (200, True, 200)
    assert result["reply"]
    assert result["latency_ms"] >= 0
    bad = channel_body(upstream.url, code="ch-bad", credentials={"api_key": "sk-wrong"})
    await api(gateway, "POST", "/console/channels", body=bad)
    status, result = await api(gateway, "POST", "/console/channels/ch-bad/test")
    assert (status, result["ok"], result["status"]) == (200, False, 401)
    assert (await gateway.usage()) == []  # a probe is not traffic


@pytest.mark.mysql
async def test_catalog_api_on_mysql(tmp_path: Path, mysql_database: str) -> None:
    async with running_gateway(gateway_settings(tmp_path, mysql_database)) as gw:
        assert (await api(gw, "POST", "/console/models", body={"name": "gpt-test"}))[0] == 201
        body = channel_body("https://up.example/v1")
        assert (await api(gw, "POST", "/console/channels", body=body))[0] == 201
        status, error = await api(gw, "POST", "/console/channels", body=body)
        assert (status, error["error"]["code"]) == (400, "duplicate")
        _, shown = await api(gw, "GET", "/console/channels/ch-fake")
        assert shown["credentials"] == {"api_key": "****6789"}
