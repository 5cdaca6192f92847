from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from adapters import chat_adapter
from adapters.base import Channel, ChatResult, Usage
from adapters.bedrock import BedrockAdapter, BedrockStreamMeter, converse_url, region_of
from adapters.bedrock_request import chat_to_converse
from adapters.errors import (
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamTimeout,
)
from adapters.eventstream import encode_message
from tests.adapters.helpers import (
    WEATHER_TOOL,
    exchange,
    feed_bytewise,
    message_of,
    read_stream,
)
from tests.fakes.bedrock_upstream import (
    ACCESS_KEY,
    API_KEY,
    SECRET_KEY,
    FakeBedrock,
    frame,
    stream_frames,
)
from tests.fakes.vendor import PROMPT_TOKENS, TEXT, Call

ADAPTER = BedrockAdapter()
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
IAM = {"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY}


def channel(url: str = "https://bedrock-runtime.eu-west-3.amazonaws.com", **fields: Any) -> Channel:
    values: dict[str, Any] = {"code": "ch-b", "protocol": "bedrock", "url": url}
    values.update({"deploy_name": MODEL, "credentials": IAM, **fields})
    return Channel(**values)


def test_registered_as_bedrock() -> None:
    assert isinstance(chat_adapter("bedrock"), BedrockAdapter)


def test_url_region_and_sigv4_headers() -> None:
    ch = channel(options={"headers": {"X-Trace": "t"}})
    assert region_of(ch) == "eu-west-3"
    assert (
        region_of(channel("http://127.0.0.1:1", options={"region": "ap-south-1"})) == "ap-south-1"
    )
    assert converse_url(ch, MODEL, stream=True).endswith(
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    )
    request = ADAPTER.chat_request(
        ch, {"model": "c", "messages": [{"role": "user", "content": "x"}]}, {}
    )
    authorization = request.headers["Authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert "/eu-west-3/bedrock/aws4_request" in authorization
    assert "x-trace" in authorization  # extra headers are signed too
    assert request.headers["X-Amz-Date"]
    session = channel(credentials={**IAM, "session_token": "tok"})
    assert (
        ADAPTER.chat_request(session, {"messages": []}, {}).headers["X-Amz-Security-Token"] == "tok"
    )


def test_api_key_is_a_bearer_token_and_missing_keys_are_a_channel_fault() -> None:
    request = ADAPTER.chat_request(channel(credentials={"api_key": "k"}), {"messages": []}, {})
    assert request.headers["Authorization"] == "Bearer k"
    with pytest.raises(UpstreamServerError, match="no Bedrock credentials"):
        ADAPTER.chat_request(channel(credentials={}), {"messages": []}, {})


def test_converse_body() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is it?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}},
            ]},
            {"role": "user", "content": "  "},
            {"role": "assistant", "content": "", "tool_calls": [{
                "id": "t1", "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'}}]},
            {"role": "tool", "tool_call_id": "t1", "content": '{"temp": 3}'},
            {"role": "tool", "tool_call_id": "t2", "content": "cold"},
        ],
        "tools": [WEATHER_TOOL], "tool_choice": "required",
        "max_tokens": 300, "temperature": 0.1, "top_p": 0.9, "stop": ["##"], "top_k": 5,
    }  # fmt: skip
    sent = chat_to_converse(body)
    assert sent["system"] == [{"text": "Be brief."}]
    assert sent["messages"] == [
        {"role": "user", "content": [
            {"text": "What is it?"},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/"}}},
        ]},
        {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Lyon"}}}]},
        {"role": "user", "content": [
            {"toolResult": {"toolUseId": "t1", "content": [{"json": {"temp": 3}}]}},
            {"toolResult": {"toolUseId": "t2", "content": [{"text": "cold"}]}},
        ]},
    ]  # fmt: skip
    assert sent["inferenceConfig"] == {
        "maxTokens": 300, "temperature": 0.1, "topP": 0.9, "stopSequences": ["##"]}  # fmt: skip
    assert sent["toolConfig"]["toolChoice"] == {"any": {}}
    assert sent["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {
        "json": WEATHER_TOOL["function"]["parameters"]
    }
    assert sent["additionalModelRequestFields"] == {"top_k": 5}


def test_web_images_are_a_client_error() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://img.test/a.png"}}]}]}  # fmt: skip
    with pytest.raises(UpstreamBadRequest):
        chat_to_converse(body)


def test_result() -> None:
    answer = {
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Hmm", "signature": "s"}}},
            {"text": "Calling."},
            {"toolUse": {"toolUseId": "tu1", "name": "f", "input": {"x": 1}}},
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 5, "outputTokens": 6, "cacheReadInputTokens": 10},
    }  # fmt: skip
    result = ADAPTER.chat_result(200, {}, orjson.dumps(answer))
    message = message_of(result)
    assert (message["content"], message["reasoning_content"]) == ("Calling.", "Hmm")
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x":1}'}
    assert result.finish_reason == "tool_calls"
    assert result.usage == Usage(prompt_tokens=15, completion_tokens=6, cached_tokens=10)


def test_stream_frames_split_at_every_byte() -> None:
    data = b"".join(stream_frames(Call("get_weather", {"city": "Oslo"})))
    meter = BedrockStreamMeter({"model": "b", "stream_options": {"include_usage": True}})
    answer = read_stream(feed_bytewise(meter, data))
    assert answer.calls == [
        {"id": "tooluse_fake01", "name": "get_weather", "args": '{"city":"Oslo"}'}
    ]
    assert answer.finish_reason == "tool_calls"
    assert answer.done
    assert meter.done
    assert meter.usage == Usage(PROMPT_TOKENS, 9, 3)
    assert answer.usage is not None


def test_stream_reasoning_and_close_without_metadata() -> None:
    data = frame("messageStart", {"role": "assistant"}) + frame(
        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "r"}}}
    ) + frame("messageStop", {"stopReason": "max_tokens"})  # fmt: skip
    meter = BedrockStreamMeter({})
    out = meter.feed(data)
    assert not meter.done
    answer = read_stream(out + meter.close())
    assert (answer.reasoning, answer.finish_reason, answer.done) == ("r", "length", True)


@pytest.mark.parametrize(
    ("exception", "error"),
    [
        ("throttlingException", UpstreamRateLimited),
        ("validationException", UpstreamBadRequest),
        ("modelStreamErrorException", UpstreamServerError),
        ("modelTimeoutException", UpstreamTimeout),
    ],
)
def test_stream_exceptions(exception: str, error: type[Exception]) -> None:
    headers = {":exception-type": exception, ":message-type": "exception"}
    meter = BedrockStreamMeter({})
    with pytest.raises(error):
        meter.feed(encode_message(headers, b'{"message": "boom"}'))


@pytest.mark.parametrize(
    ("status", "kind", "error"),
    [
        (400, "ValidationException", UpstreamBadRequest),
        (400, "ServiceQuotaExceededException", UpstreamRateLimited),
        (403, "AccessDeniedException", UpstreamServerError),
        (408, "ModelTimeoutException", UpstreamTimeout),
        (429, "ThrottlingException", UpstreamRateLimited),
        (424, "ModelErrorException", UpstreamServerError),
        (503, "ServiceUnavailableException", UpstreamServerError),
    ],
)
def test_http_errors(status: int, kind: str, error: type[Exception]) -> None:
    headers = {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    with pytest.raises(error):
        ADAPTER.chat_result(status, headers, b'{"message": "no"}')


# --- against the fake Bedrock -------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeBedrock]:
    server = FakeBedrock()
    await server.start()
    yield server
    await server.close()


async def test_fake_checks_the_sigv4_signature(fake: FakeBedrock) -> None:
    body = {"model": "b", "messages": [{"role": "user", "content": "Hi"}]}
    ch = channel(fake.url, options={"region": "us-west-2"})
    result = await exchange(ADAPTER, ch, body)
    assert isinstance(result, ChatResult)
    assert message_of(result)["content"] == TEXT
    assert result.usage == Usage(PROMPT_TOKENS, 9, 3)
    assert fake.signers == [ACCESS_KEY]
    assert fake.paths == [f"/model/{MODEL.replace(':', '%3A')}/converse"]
    wrong = channel(fake.url, credentials={**IAM, "secret_access_key": "nope"})
    with pytest.raises(UpstreamServerError, match="credentials"):
        await exchange(ADAPTER, wrong, body)


async def test_fake_stream_tools_and_api_key(fake: FakeBedrock) -> None:
    ch = channel(fake.url, credentials={"api_key": API_KEY})
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather?"}]
    body = {"model": "b", "messages": messages, "tools": [WEATHER_TOOL], "stream": True}
    out = await exchange(ADAPTER, ch, body)
    assert isinstance(out, bytes)
    [call] = read_stream(out).calls
    assert (call["name"], call["args"]) == ("get_weather", '{"city":"mock"}')
    function = {"name": call["name"], "arguments": call["args"]}
    messages += [
        {"role": "assistant", "tool_calls": [{"id": call["id"], "type": "function",
                                              "function": function}]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
    ]  # fmt: skip
    out = await exchange(ADAPTER, ch, body)
    assert isinstance(out, bytes)
    assert read_stream(out).content == TEXT


async def test_fake_errors_and_mid_stream_exception(fake: FakeBedrock) -> None:
    body = {"model": "b", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    fake.exception_after = "throttlingException"
    with pytest.raises(UpstreamRateLimited):
        await exchange(ADAPTER, channel(fake.url), body)
    fake.fail_with = 429
    with pytest.raises(UpstreamRateLimited):
        await exchange(ADAPTER, channel(fake.url), body)
    fake.fail_with = 400
    with pytest.raises(UpstreamBadRequest):
        await exchange(ADAPTER, channel(fake.url), body)
