from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from adapters import chat_adapter
from adapters.base import Channel, ChatResult, Usage
from adapters.errors import UpstreamBadRequest, UpstreamServerError
from adapters.volcengine import VolcengineAdapter, base_url
from tests.adapters.helpers import WEATHER_TOOL, exchange, message_of, read_stream
from tests.fakes.vendor import PROMPT_TOKENS, REASONING, TEXT
from tests.fakes.volcengine_upstream import API_KEY, FakeVolcengine

ADAPTER = VolcengineAdapter()
MESSAGES = [{"role": "user", "content": "Hi"}]


def channel(url: str = "https://ark.cn-beijing.volces.com", **fields: Any) -> Channel:
    values: dict[str, Any] = {"code": "ch-ark", "protocol": "volcengine", "url": url}
    values.update({"deploy_name": "ep-2025-fake", "credentials": {"api_key": API_KEY}, **fields})
    return Channel(**values)


def test_registered_as_volcengine() -> None:
    assert isinstance(chat_adapter("volcengine"), VolcengineAdapter)


def test_api_path_and_thinking_option() -> None:
    assert base_url(channel()) == "https://ark.cn-beijing.volces.com/api/v3"
    request = ADAPTER.chat_request(
        channel(options={"thinking": "disabled"}), {"model": "d", "messages": MESSAGES}, {}
    )
    assert request.url == "https://ark.cn-beijing.volces.com/api/v3/chat/completions"
    sent = orjson.loads(request.body)
    assert (sent["model"], sent["thinking"]) == ("ep-2025-fake", {"type": "disabled"})


@pytest.fixture
async def fake() -> AsyncIterator[FakeVolcengine]:
    server = FakeVolcengine()
    await server.start()
    yield server
    await server.close()


async def test_fake_reasoning_and_usage(fake: FakeVolcengine) -> None:
    body: dict[str, Any] = {"model": "d", "messages": MESSAGES}
    result = await exchange(ADAPTER, channel(fake.url), body)
    assert isinstance(result, ChatResult)
    message = message_of(result)
    assert (message["content"], message["reasoning_content"]) == (TEXT, REASONING)
    assert result.usage == Usage(PROMPT_TOKENS, 9, 3)
    out = await exchange(ADAPTER, channel(fake.url), {**body, "stream": True})
    assert isinstance(out, bytes)
    assert read_stream(out).reasoning == REASONING
    out = await exchange(
        ADAPTER, channel(fake.url, options={"thinking": "disabled"}), {**body, "stream": True}
    )
    assert isinstance(out, bytes)
    assert read_stream(out).reasoning == ""


async def test_fake_tools_and_errors(fake: FakeVolcengine) -> None:
    body = {"model": "d", "messages": MESSAGES, "tools": [WEATHER_TOOL], "stream": True}
    out = await exchange(ADAPTER, channel(fake.url), body)
    assert isinstance(out, bytes)
    assert read_stream(out).finish_reason == "tool_calls"
    with pytest.raises(UpstreamBadRequest, match="thinking"):
        await exchange(ADAPTER, channel(fake.url), {**body, "thinking": {"type": "sometimes"}})
    with pytest.raises(UpstreamServerError, match="credentials"):
        await exchange(ADAPTER, channel(fake.url, credentials={"api_key": "x"}), body)
    fake.fail_with = 500
    with pytest.raises(UpstreamServerError):
        await exchange(ADAPTER, channel(fake.url), body)
