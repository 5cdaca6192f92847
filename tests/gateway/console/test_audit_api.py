"""The audit log over HTTP: filters, masked secrets, the address, append-only."""

from __future__ import annotations

import time

from tests.gateway.console.client import Browser, api
from tests.harness import Gateway


async def test_every_change_is_audited_and_filterable(gateway: Gateway) -> None:
    console = await gateway.new_key("console")
    start = time.time()
    await api(gateway, "POST", "/console/models", console, {"name": "gpt-test"})
    await api(gateway, "PATCH", "/console/models/gpt-test", console, {"features": {"x": 1}})
    await api(gateway, "POST", "/console/apikeys", body={"name": "batch"})
    status, everything = await api(gateway, "GET", "/console/audit")
    assert status == 200
    entries = everything["data"]
    assert [(e["entity"], e["action"]) for e in entries] == [
        ("apikey", "create"),
        ("model", "update"),
        ("model", "create"),
    ]
    update = entries[1]
    assert (update["before"]["features"], update["after"]["features"]) == ({}, {"x": 1})
    assert update["address"] == "127.0.0.1"
    assert update["created_at"] >= start - 1
    console_code = (await api(gateway, "GET", "/v1/apikey/whoami", console))[1]["code"]
    assert update["actor"] == console_code
    _, models = await api(gateway, "GET", "/console/audit?entity=model")
    assert len(models["data"]) == 2
    _, mine = await api(gateway, "GET", f"/console/audit?actor={console_code}")
    assert len(mine["data"]) == 2
    _, later = await api(gateway, "GET", f"/console/audit?since={time.time() + 60}")
    assert later["data"] == []
    _, iso = await api(gateway, "GET", "/console/audit?since=2000-01-01T00:00:00Z&limit=1")
    assert (len(iso["data"]), iso["has_more"]) == (1, True)
    older = iso["data"][0]["id"]
    _, page = await api(gateway, "GET", f"/console/audit?before_id={older}")
    assert [e["entity"] for e in page["data"]] == ["model", "model"]
    status, error = await api(gateway, "GET", "/console/audit?since=yesterday")
    assert (status, error["error"]["param"]) == (400, "since")


async def test_a_created_key_secret_never_reaches_the_log(gateway: Gateway) -> None:
    _, made = await api(gateway, "POST", "/console/apikeys", body={"name": "k"})
    _, audit = await api(gateway, "GET", "/console/audit")
    assert made["key"] not in str(audit)
    after = audit["data"][0]["after"]
    assert "sha256" not in after
    assert after["mask"] == made["mask"]


async def test_the_log_is_append_only(gateway: Gateway) -> None:
    methods = {
        route.method
        for route in gateway.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/console/audit")
    }
    assert methods <= {"GET", "HEAD"}
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        status, _ = await api(gateway, method, "/console/audit", body={})
        assert status == 405


async def test_a_session_user_is_the_actor(gateway: Gateway) -> None:
    async with Browser(gateway) as browser:
        await browser.key_login(gateway.key)
        await browser.call("POST", "/console/categories", {"code": "audio"})
        status, audit = await browser.call("GET", "/console/audit?entity=category")
    assert status == 200
    whoami = (await api(gateway, "GET", "/v1/apikey/whoami"))[1]["code"]
    assert audit["data"][0]["actor"] == whoami
