from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from adapters import chat_adapter
from adapters.azure import AzureAdapter, chat_url
from adapters.base import Channel, ChatResult, Usage
from adapters.errors import UpstreamBadRequest, UpstreamRateLimited, UpstreamServerError
from tests.adapters.helpers import WEATHER_TOOL, exchange, message_of, read_stream
from tests.fakes.azure_upstream import API_KEY, DEPLOYMENT, FakeAzure
from tests.fakes.vendor import PROMPT_TOKENS, TEXT

ADAPTER = AzureAdapter()
MESSAGES = [{"role": "user", "content": "Hi"}]


def channel(url: str = "https://res.openai.azure.com", **fields: Any) -> Channel:
    values: dict[str, Any] = {"code": "ch-az", "protocol": "azure", "url": url}
    values.update({"deploy_name": DEPLOYMENT, "credentials": {"api_key": API_KEY}, **fields})
    return Channel(**values)


def test_registered_as_azure() -> None:
    assert isinstance(chat_adapter("azure"), AzureAdapter)


def test_deployment_url_api_version_and_key() -> None:
    assert chat_url(channel()) == (
        f"https://res.openai.azure.com/openai/deployments/{DEPLOYMENT}/chat/completions"
        "?api-version=2024-10-21"
    )
    assert chat_url(channel("https://res.openai.azure.com/openai/", deploy_name="a b")) == (
        "https://res.openai.azure.com/openai/deployments/a%20b/chat/completions"
        "?api-version=2024-10-21"
    )
    v1 = channel(options={"api_version": "v1"})
    assert chat_url(v1) == "https://res.openai.azure.com/openai/v1/chat/completions"
    request = ADAPTER.chat_request(
        channel(options={"headers": {"x-ms-client-request-id": "r1"}, "max_tokens": 64}),
        {"model": "gpt-4o", "messages": MESSAGES, "stream": True},
        {},
    )
    assert request.headers == {
        "Content-Type": "application/json",
        "api-key": API_KEY,
        "x-ms-client-request-id": "r1",
    }
    sent = orjson.loads(request.body)
    assert sent["model"] == DEPLOYMENT
    assert sent["max_tokens"] == 64
    assert sent["stream_options"] == {"include_usage": True}


@pytest.fixture
async def fake() -> AsyncIterator[FakeAzure]:
    server = FakeAzure()
    await server.start()
    yield server
    await server.close()


async def test_fake_stream_with_filter_chunks_and_non_stream(fake: FakeAzure) -> None:
    body: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES}
    result = await exchange(ADAPTER, channel(fake.url), body)
    assert isinstance(result, ChatResult)
    assert message_of(result)["content"] == TEXT
    assert result.usage == Usage(PROMPT_TOKENS, 9, 3)
    out = await exchange(ADAPTER, channel(fake.url), {**body, "stream": True})
    assert isinstance(out, bytes)
    answer = read_stream(out)
    assert (answer.content, answer.finish_reason) == (TEXT, "stop")
    assert answer.usage is None, "the usage chunk the gateway asked for is hidden"
    assert fake.paths[-1] == (
        f"/openai/deployments/{DEPLOYMENT}/chat/completions?api-version=2024-10-21"
    )


async def test_fake_tools_and_v1_api(fake: FakeAzure) -> None:
    body = {"model": "gpt-4o", "messages": MESSAGES, "tools": [WEATHER_TOOL], "stream": True}
    out = await exchange(ADAPTER, channel(fake.url, options={"api_version": "v1"}), body)
    assert isinstance(out, bytes)
    assert read_stream(out).calls[0]["args"] == '{"city":"mock"}'
    assert fake.paths[-1] == "/openai/v1/chat/completions"


async def test_fake_errors(fake: FakeAzure) -> None:
    body = {"model": "gpt-4o", "messages": MESSAGES}
    with pytest.raises(UpstreamServerError, match="credentials"):
        await exchange(ADAPTER, channel(fake.url, credentials={"api_key": "bad"}), body)
    with pytest.raises(UpstreamBadRequest, match="Resource not found"):
        await exchange(ADAPTER, channel(fake.url, options={"api_version": "1999-01-01"}), body)
    fake.fail_with = 429
    with pytest.raises(UpstreamRateLimited) as caught:
        await exchange(ADAPTER, channel(fake.url), body)
    assert caught.value.retry_after == 1.5
