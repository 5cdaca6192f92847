"""Key hierarchy and management over HTTP: whoami, child keys, /console/apikeys, usage."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.declare import DEMO_CATALOG
from tests.harness import Gateway, gateway_settings, running_gateway

CHAT = {"model": "mock-chat", "messages": [{"role": "user", "content": "hi"}]}
FAST = {"X-Bella-Mock-Interval-Ms": "0"}


@pytest.fixture
async def gateway(tmp_path: Path, database_url: str) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(tmp_path, database_url, DEMO_CATALOG)) as gw:
        yield gw


async def call(
    gw: Gateway, method: str, path: str, key: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}", **FAST}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, gw.url + path, json=body, headers=headers) as response,
    ):
        if response.content_type == "text/csv":
            return response.status, await response.text()
        return response.status, await response.json()


async def test_whoami_tells_a_key_about_itself(gateway: Gateway) -> None:
    key = await gateway.new_key("high", qps=7, concurrency=2, month_quota=Decimal("3.5"))
    status, me = await call(gateway, "GET", "/v1/apikey/whoami", key)
    assert status == 200
    assert me["role"] == "high"
    assert me["limits"] == {"qps": 7, "concurrency": 2}
    assert (me["month_quota"], me["month_spent"]) == ("3.5", "0")
    assert me["code"].startswith("ak-")
    assert key not in str(me)


async def test_child_keys_stay_within_their_parent(gateway: Gateway) -> None:
    parent = await gateway.new_key("high", qps=10, month_quota=Decimal("5"))
    status, error = await call(
        gateway, "POST", "/v1/apikey/children", parent, {"name": "c", "qps": 20}
    )
    assert (status, error["error"]["type"]) == (403, "permission_error")
    status, error = await call(
        gateway, "POST", "/v1/apikey/children", parent, {"name": "c", "month_quota": "6"}
    )
    assert status == 403
    status, error = await call(
        gateway, "POST", "/v1/apikey/children", parent, {"name": "c", "role": "console"}
    )
    assert status == 403
    status, child = await call(
        gateway, "POST", "/v1/apikey/children", parent, {"name": "c", "qps": 5}
    )
    assert status == 201
    assert (child["limits"]["qps"], child["month_quota"]) == (5, "5")
    status, _ = await call(gateway, "POST", "/v1/apikey/children", child["key"], {"name": "gc"})
    assert status == 403  # one level only
    low = await gateway.new_key("low")
    status, _ = await call(gateway, "POST", "/v1/apikey/children", low, {"name": "x"})
    assert status == 403
    status, listed = await call(gateway, "GET", "/v1/apikey/children", parent)
    assert [c["code"] for c in listed["data"]] == [child["code"]]


async def test_child_spend_counts_against_the_parent(gateway: Gateway) -> None:
    parent = await gateway.new_key("high", month_quota=Decimal("1"))
    _, child = await call(gateway, "POST", "/v1/apikey/children", parent, {"name": "c"})
    for _ in range(3):
        assert (await call(gateway, "POST", "/v1/chat/completions", child["key"], CHAT))[0] == 200
    records = await gateway.usage()
    spent = sum((r.cost for r in records), Decimal(0))
    assert spent > 0
    _, me = await call(gateway, "GET", "/v1/apikey/whoami", parent)
    assert Decimal(me["month_spent"]) == spent


async def test_console_manages_keys_and_audits_every_change(gateway: Gateway) -> None:
    admin = gateway.key
    status, made = await call(
        gateway, "POST", "/console/apikeys", admin, {"name": "batch", "role": "low", "qps": 3}
    )
    assert status == 201
    secret, code = made["key"], made["code"]
    assert (await call(gateway, "POST", "/v1/chat/completions", secret, CHAT))[0] == 200
    status, changed = await call(
        gateway, "PATCH", f"/console/apikeys/{code}", admin, {"name": "renamed", "qps": 9}
    )
    assert (status, changed["name"], changed["limits"]["qps"]) == (200, "renamed", 9)
    status, reset = await call(gateway, "POST", f"/console/apikeys/{code}/reset", admin)
    assert status == 200
    assert reset["code"] == code
    assert (await call(gateway, "GET", "/v1/apikey/whoami", secret))[0] == 401
    assert (await call(gateway, "GET", "/v1/apikey/whoami", reset["key"]))[0] == 200
    status, _ = await call(gateway, "POST", f"/console/apikeys/{code}/deactivate", admin)
    assert status == 200
    assert (await call(gateway, "GET", "/v1/apikey/whoami", reset["key"]))[0] == 401
    audit = await gateway.store.list_audit()
    assert [a.action for a in reversed(audit)] == ["create", "update", "reset", "deactivate"]
    assert all(a.entity_id == code for a in audit)
    assert all(secret not in str(a) and reset["key"] not in str(a) for a in audit)


async def test_console_routes_refuse_low_and_high_keys(gateway: Gateway) -> None:
    for role in ("low", "high"):
        key = await gateway.new_key(role)
        for method, path in [
            ("GET", "/console/apikeys"),
            ("POST", "/console/apikeys"),
            ("GET", "/console/apikeys/ak-x"),
            ("PATCH", "/console/apikeys/ak-x"),
            ("POST", "/console/apikeys/ak-x/reset"),
            ("GET", "/console/usage"),
        ]:
            status, error = await call(gateway, method, path, key, {})
            assert (status, error["error"]["type"]) == (403, "permission_error"), (role, path)


async def test_console_cannot_grant_a_role_above_its_own(gateway: Gateway) -> None:
    console = await gateway.new_key("console")
    status, _ = await call(
        gateway, "POST", "/console/apikeys", console, {"name": "x", "role": "all"}
    )
    assert status == 403


async def test_usage_report_by_key_model_and_csv(gateway: Gateway) -> None:
    key = await gateway.new_key()
    for _ in range(2):
        await call(gateway, "POST", "/v1/chat/completions", key, CHAT)
    await gateway.usage()
    status, report = await call(gateway, "GET", "/console/usage?by=model", gateway.key)
    assert status == 200
    [row] = report["data"]
    assert (row["group"], row["requests"]) == ("mock-chat", 2)
    status, text = await call(gateway, "GET", "/console/usage?by=key&format=csv", gateway.key)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["key", "requests", "prompt_tokens", "completion_tokens", "cost"]
    assert rows[1][1] == "2"
    status, error = await call(gateway, "GET", "/console/usage?month=2026-13", gateway.key)
    assert (status, error["error"]["param"]) == (400, "month")
