"""/console/users and /console/meta; reads of single catalog rows."""

from __future__ import annotations

from urllib.parse import quote

from tests.gateway.console.client import api
from tests.harness import Gateway


async def test_users_are_granted_changed_and_ended(gateway: Gateway) -> None:
    status, made = await api(gateway, "POST", "/console/users", body={"email": "Bo@Example.com"})
    assert (status, made["email"], made["role"]) == (201, "bo@example.com", "admin")
    code = made["code"]
    _, listed = await api(gateway, "GET", "/console/users")
    assert [u["email"] for u in listed["data"]] == ["bo@example.com"]
    assert (await api(gateway, "GET", f"/console/users/{code}"))[1]["code"] == code
    status, changed = await api(
        gateway, "PATCH", f"/console/users/{code}", body={"role": "none", "name": "Bo"}
    )
    assert (status, changed["role"], changed["name"]) == (200, "none", "Bo")
    status, error = await api(gateway, "PATCH", f"/console/users/{code}", body={"role": "god"})
    assert (status, error["error"]["param"]) == (400, "role")
    assert (await api(gateway, "POST", f"/console/users/{code}/deactivate"))[1]["status"] == (
        "inactive"
    )
    assert (await api(gateway, "POST", f"/console/users/{code}/activate"))[1]["status"] == (
        "active"
    )
    _, ended = await api(gateway, "POST", f"/console/users/{code}/logout")
    assert ended["sessions_valid_after"] > 0
    status, error = await api(gateway, "POST", "/console/users", body={"email": "nobody"})
    assert (status, error["error"]["param"]) == (400, "email")
    assert (await api(gateway, "GET", "/console/users/u-none"))[0] == 404
    _, audit = await api(gateway, "GET", "/console/audit?entity=user")
    actions = [e["action"] for e in audit["data"]]
    assert actions == ["logout_all", "activate", "deactivate", "update", "grant"]


async def test_meta_and_single_rows(gateway: Gateway) -> None:
    status, meta = await api(gateway, "GET", "/console/meta")
    assert status == 200
    assert "openai" in meta["protocols"]
    assert meta["roles"] == ["low", "high", "console", "all"]
    assert (await api(gateway, "GET", "/console/models/mock-chat"))[1]["name"] == "mock-chat"
    path = "/console/endpoints/" + quote("/v1/chat/completions", safe="")
    assert (await api(gateway, "GET", path))[1]["kind"] == "chat"
    status, channel = await api(gateway, "GET", "/console/channels/ch-mock-chat")
    assert (status, channel["protocol"]) == (200, "mock")
    assert (await api(gateway, "POST", "/console/channels/ch-mock-chat/deactivate"))[0] == 200
    _, back = await api(gateway, "POST", "/console/channels/ch-mock-chat/activate")
    assert (back["status"], back["state"]["routed"]) == ("active", True)
    assert (await api(gateway, "POST", "/console/models/mock-chat/deactivate"))[0] == 200
    assert (await api(gateway, "POST", "/console/models/mock-chat/activate"))[0] == 200
