"""Bad input gets a clear OpenAI-shaped error and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_upstream import API_KEY, FakeOpenAI
from tests.harness import Gateway, chat_catalog, chat_channel, gateway_settings, running_gateway


@pytest.fixture
async def gateway(tmp_path: Path, upstream: FakeOpenAI) -> AsyncIterator[Gateway]:
    catalog = chat_catalog(chat_channel(upstream.url, API_KEY))
    async with running_gateway(gateway_settings(tmp_path, "", catalog)) as gw:
        yield gw


async def post(gw: Gateway, data: bytes, key: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key or gw.key}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(gw.base_url + "/chat/completions", data=data, headers=headers) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', "model"),
        (b'{"model": "gpt-test"}', "messages"),
        (b'{"model": 42, "messages": []}', "model"),
        (b'{"model": "gpt-test", "messages": "hi"}', "messages"),
        (b'{"model": "gpt-test", "messages": [{}], "stream": "yes"}', "stream"),
        (b'{"model": "", "messages": [{}]}', "model"),
    ],
)
async def test_malformed_bodies_are_400(
    gateway: Gateway, upstream: FakeOpenAI, body: bytes, param: str | None
) -> None:
    status, answer = await post(gateway, body)
    assert status == 400
    error = answer["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert error["param"] == param
    assert upstream.requests == []


async def test_sql_metacharacters_in_the_model_name_are_just_an_unknown_model(
    gateway: Gateway,
) -> None:
    body = (
        b'{"model": "x\'; DROP TABLE model; --", "messages": [{"role": "user", "content": "hi"}]}'
    )
    status, answer = await post(gateway, body)
    assert status == 404
    assert answer["error"]["code"] == "model_not_found"
    assert [m.name for m in await gateway.store.list_models()] == ["gpt-test"]


async def test_missing_key_is_401_missing_api_key(gateway: Gateway) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(gateway.base_url + "/chat/completions", data=b"{}") as response,
    ):
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "missing_api_key"


async def test_unknown_route_is_an_openai_shaped_404(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http, http.get(gateway.url + "/v1/nothing") as response:
        assert response.status == 404
        assert (await response.json())["error"]["type"] == "invalid_request_error"


async def test_unknown_paths_and_methods_get_openai_errors(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(gateway.url + "/v1/no/such/path") as missing:
            assert missing.status == 404
            assert (await missing.json())["error"]["code"] == "not_found"
            assert missing.headers["X-Bella-Request-Id"].startswith("req-")
        async with http.delete(gateway.base_url + "/chat/completions") as wrong:
            assert wrong.status == 405
            assert (await wrong.json())["error"]["code"] == "method_not_allowed"
            assert wrong.headers["Allow"] == "POST"
        async with http.head(gateway.base_url + "/models") as head:
            assert head.status in (200, 401)  # a GET route answers HEAD too
            assert head.status != 405
