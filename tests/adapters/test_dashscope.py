from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from adapters import chat_adapter
from adapters.base import Channel, ChatResult, Usage
from adapters.dashscope import DashScopeAdapter, base_url
from adapters.errors import UpstreamBadRequest, UpstreamRateLimited, UpstreamServerError
from tests.adapters.helpers import WEATHER_TOOL, exchange, message_of, read_stream
from tests.fakes.dashscope_upstream import API_KEY, FakeDashScope
from tests.fakes.vendor import PROMPT_TOKENS, REASONING, TEXT

ADAPTER = DashScopeAdapter()
MESSAGES = [{"role": "user", "content": "你好"}]


def channel(url: str = "https://dashscope.aliyuncs.com", **fields: Any) -> Channel:
    values: dict[str, Any] = {"code": "ch-ds", "protocol": "dashscope", "url": url}
    values.update({"deploy_name": "qwen-plus", "credentials": {"api_key": API_KEY}, **fields})
    return Channel(**values)


def test_registered_as_dashscope() -> None:
    assert isinstance(chat_adapter("dashscope"), DashScopeAdapter)


def test_compatible_mode_path_and_thinking_option() -> None:
    assert base_url(channel()) == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    intl = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert base_url(channel(intl)) == intl
    request = ADAPTER.chat_request(
        channel(options={"enable_thinking": False}), {"model": "q", "messages": MESSAGES}, {}
    )
    assert request.url == "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert orjson.loads(request.body)["enable_thinking"] is False
    body = {"model": "q", "messages": MESSAGES, "enable_thinking": True}
    sent = ADAPTER.chat_request(channel(options={"enable_thinking": False}), body, {}).body
    assert orjson.loads(sent)["enable_thinking"] is True


@pytest.fixture
async def fake() -> AsyncIterator[FakeDashScope]:
    server = FakeDashScope()
    await server.start()
    yield server
    await server.close()


async def test_fake_thinking_stream_and_non_stream(fake: FakeDashScope) -> None:
    ch = channel(fake.url, options={"enable_thinking": False})
    body: dict[str, Any] = {"model": "q", "messages": MESSAGES}
    result = await exchange(ADAPTER, ch, body)
    assert isinstance(result, ChatResult)
    assert message_of(result)["content"] == TEXT
    assert result.usage == Usage(PROMPT_TOKENS, 9, 3)
    out = await exchange(ADAPTER, ch, {**body, "stream": True, "enable_thinking": True})
    assert isinstance(out, bytes)
    answer = read_stream(out)
    assert (answer.reasoning, answer.content) == (REASONING, TEXT)


async def test_fake_tools_and_errors(fake: FakeDashScope) -> None:
    body = {"model": "q", "messages": MESSAGES, "tools": [WEATHER_TOOL]}
    result = await exchange(ADAPTER, channel(fake.url), body)
    assert isinstance(result, ChatResult)
    assert message_of(result)["tool_calls"][0]["function"]["name"] == "get_weather"
    with pytest.raises(UpstreamBadRequest, match="enable_thinking"):
        await exchange(ADAPTER, channel(fake.url, options={"enable_thinking": True}), body)
    with pytest.raises(UpstreamServerError, match="credentials"):
        await exchange(ADAPTER, channel(fake.url, credentials={"api_key": "x"}), body)
    fake.fail_with = 429
    with pytest.raises(UpstreamRateLimited):
        await exchange(ADAPTER, channel(fake.url), body)
