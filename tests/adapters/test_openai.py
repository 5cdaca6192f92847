from __future__ import annotations

from email.utils import formatdate
from typing import Any

import orjson
import pytest

from adapters import chat_adapter
from adapters.base import Channel, Usage
from adapters.errors import (
    UpstreamBadRequest,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamServerError,
)
from adapters.mock import MockAdapter
from adapters.openai import (
    OpenAIAdapter,
    OpenAIStreamMeter,
    error_from_response,
    error_message,
    retry_after_seconds,
)

ADAPTER = OpenAIAdapter()


def channel(**fields: Any) -> Channel:
    values: dict[str, Any] = {"code": "ch-1", "protocol": "openai", "url": "https://up.test/v1"}
    values.update(fields)
    return Channel(**values)


def sent_body(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    request = ADAPTER.chat_request(channel(**fields), body, {})
    loaded: dict[str, Any] = orjson.loads(request.body)
    return loaded


# --- request building ---------------------------------------------------------------------


def test_request_url_headers_and_model_mapping() -> None:
    ch = channel(
        url="https://up.test/v1/",
        deploy_name="gpt-4o-2024-08-06",
        credentials={"api_key": "sk-secret"},
        options={"headers": {"OpenAI-Organization": "org-1"}},
    )
    request = ADAPTER.chat_request(ch, {"model": "gpt-4o", "messages": []}, {})
    assert request.method == "POST"
    assert request.url == "https://up.test/v1/chat/completions"
    assert request.headers == {
        "Content-Type": "application/json",
        "Authorization": "Bearer sk-secret",
        "OpenAI-Organization": "org-1",
    }
    assert orjson.loads(request.body) == {"model": "gpt-4o-2024-08-06", "messages": []}
    assert request.stream is False


def test_no_authorization_without_api_key_and_model_kept_without_deploy_name() -> None:
    request = ADAPTER.chat_request(channel(), {"model": "gpt-4o"}, {})
    assert "Authorization" not in request.headers
    assert orjson.loads(request.body) == {"model": "gpt-4o"}


def test_unknown_fields_pass_through_and_client_body_is_not_mutated() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "x_vendor": {"deep": [1, 2, {"k": None}]},
        "top_k": 5,
    }
    snapshot = orjson.dumps(body)
    sent = sent_body(body, deploy_name="d")
    assert sent["x_vendor"] == {"deep": [1, 2, {"k": None}]}
    assert sent["top_k"] == 5
    assert sent["messages"] == body["messages"]
    assert orjson.dumps(body) == snapshot


def test_stream_asks_for_usage() -> None:
    sent = sent_body({"model": "m", "stream": True})
    assert sent["stream_options"] == {"include_usage": True}
    assert ADAPTER.chat_request(channel(), {"stream": True}, {}).stream is True


def test_include_usage_merged_into_client_stream_options() -> None:
    sent = sent_body({"stream": True, "stream_options": {"other": 1}})
    assert sent["stream_options"] == {"other": 1, "include_usage": True}


def test_include_usage_of_the_client_is_kept() -> None:
    sent = sent_body({"stream": True, "stream_options": {"include_usage": True}})
    assert sent["stream_options"] == {"include_usage": True}


def test_client_include_usage_false_is_overridden_for_billing() -> None:
    # The meter hides the usage chunk from such a client (see the meter tests).
    sent = sent_body({"stream": True, "stream_options": {"include_usage": False}})
    assert sent["stream_options"] == {"include_usage": True}


def test_include_usage_not_added_when_the_channel_says_no_or_not_streaming() -> None:
    assert "stream_options" not in sent_body({"stream": True}, options={"include_usage": False})
    assert "stream_options" not in sent_body({"stream": False})
    assert "stream_options" not in sent_body({})


def test_drop_fields_removes_fields_including_added_ones() -> None:
    options = {"drop_fields": ["stream_options", "user", "absent"]}
    sent = sent_body({"model": "m", "stream": True, "user": "u1", "n": 1}, options=options)
    assert sent == {"model": "m", "stream": True, "n": 1}


# --- non-stream results -------------------------------------------------------------------


def test_chat_result_reads_usage_and_keeps_body() -> None:
    data = orjson.dumps(
        {
            "id": "chatcmpl-1",
            "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": 3,
                "total_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 8},
            },
        }
    )
    result = ADAPTER.chat_result(200, {}, data)
    assert result.body is data
    assert result.usage == Usage(prompt_tokens=12, completion_tokens=3, cached_tokens=8)
    assert result.finish_reason == "stop"


def test_chat_result_without_usage() -> None:
    data = b'{"choices":[{"finish_reason":null}],"usage":null}'
    result = ADAPTER.chat_result(200, {}, data)
    assert result.usage is None
    assert result.finish_reason is None


@pytest.mark.parametrize("data", [b"<html>oops</html>", b"", b"[1, 2]"])
def test_chat_result_not_a_json_object_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(UpstreamProtocolError):
        ADAPTER.chat_result(200, {}, data)


def test_chat_result_error_body_with_200_is_a_server_error() -> None:
    with pytest.raises(UpstreamServerError, match="overloaded"):
        ADAPTER.chat_result(200, {}, b'{"error": {"message": "overloaded"}}')


# --- errors -------------------------------------------------------------------------------

OPENAI_ERROR = b'{"error": {"message": "Bad thing", "type": "invalid_request_error"}}'


@pytest.mark.parametrize(
    ("status", "kind", "mapped_status", "retryable"),
    [
        (400, UpstreamBadRequest, 400, False),
        (404, UpstreamBadRequest, 404, False),
        (413, UpstreamBadRequest, 413, False),
        (422, UpstreamBadRequest, 422, False),
        (401, UpstreamServerError, 502, True),
        (403, UpstreamServerError, 502, True),
        (429, UpstreamRateLimited, 429, True),
        (500, UpstreamServerError, 502, True),
        (503, UpstreamServerError, 502, True),
        (408, UpstreamError, 502, True),
        (302, UpstreamError, 502, True),
    ],
)
def test_error_mapping(
    status: int, kind: type[UpstreamError], mapped_status: int, retryable: bool
) -> None:
    with pytest.raises(UpstreamError) as caught:
        ADAPTER.chat_result(status, {}, OPENAI_ERROR)
    error = caught.value
    assert type(error) is kind
    assert error.status == mapped_status
    assert error.retryable is retryable
    assert "Bad thing" in error.message


def test_credential_errors_say_so() -> None:
    error = error_from_response(401, {}, OPENAI_ERROR)
    assert "credentials" in error.message


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"RETRY-AFTER": " 3 "}, 3.0),
        ({"retry-after-ms": "250", "retry-after": "1"}, 0.25),
        ({"Retry-After": formatdate(1_000_030.0, usegmt=True)}, 30.0),
        ({"Retry-After": formatdate(999_000.0, usegmt=True)}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-5"}, 0.0),
        ({"retry-after-ms": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers, now=1_000_000.0) == seconds


def test_rate_limited_carries_retry_after() -> None:
    with pytest.raises(UpstreamRateLimited) as caught:
        ADAPTER.chat_result(429, {"Retry-After": "2"}, OPENAI_ERROR)
    assert caught.value.retry_after == 2.0


def test_error_message_forms() -> None:
    assert error_message(OPENAI_ERROR) == "Bad thing"
    assert error_message(b'{"error": "plain string"}') == "plain string"
    assert error_message(b'{"message": "top level"}') == "top level"
    long_text = b"<html>" + b"x" * 5000
    assert error_message(long_text) == long_text[:300].decode()
    assert error_message(b"") == ""


def test_error_message_masks_keys() -> None:
    data = b'{"error": {"message": "Incorrect API key provided: sk-proj-abcdef123456."}}'
    message = error_message(data)
    assert "abcdef" not in message
    assert "sk-***" in message
    assert "abc123" not in error_message(b"bad header Authorization: Bearer abc123xyz")


def test_empty_error_body_gets_a_status_message() -> None:
    error = error_from_response(500, {}, b"")
    assert error.message == "The upstream answered HTTP 500."


# --- stream meter -------------------------------------------------------------------------


def chunk(
    delta: dict[str, Any] | None = None,
    finish: str | None = None,
    **extra: Any,
) -> bytes:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    payload = {"id": "c1", "object": "chat.completion.chunk", "choices": [choice], **extra}
    return b"data: " + orjson.dumps(payload) + b"\n\n"


USAGE = {"prompt_tokens": 9, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 4}}
USAGE_CHUNK = b"data: " + orjson.dumps({"id": "c1", "choices": [], "usage": USAGE}) + b"\n\n"
DONE = b"data: [DONE]\n\n"
BEFORE_USAGE = [
    chunk({"role": "assistant", "content": ""}),
    b": keep-alive\n\n",
    chunk({"content": "Hel"}),
    chunk({"content": "lo"}),
    chunk({}, "stop"),
]
STREAM = [*BEFORE_USAGE, USAGE_CHUNK, DONE]


def run(meter: OpenAIStreamMeter, chunks: list[bytes]) -> bytes:
    return b"".join([meter.feed(data) for data in chunks]) + meter.close()


def test_meter_hides_the_usage_chunk_it_asked_for() -> None:
    meter = ADAPTER.chat_stream({"stream": True})
    out = run(meter, [b"".join(STREAM)])
    assert out == b"".join([*BEFORE_USAGE, DONE])
    assert meter.usage == Usage(prompt_tokens=9, completion_tokens=2, cached_tokens=4)
    assert meter.done
    assert meter.error is None


def test_meter_forwards_the_usage_chunk_the_client_asked_for() -> None:
    meter = ADAPTER.chat_stream({"stream": True, "stream_options": {"include_usage": True}})
    stream = b"".join(STREAM)
    assert run(meter, [stream]) == stream
    assert meter.usage == Usage(prompt_tokens=9, completion_tokens=2, cached_tokens=4)


@pytest.mark.parametrize("client_asked", [True, False])
def test_meter_output_is_the_same_for_any_chunking(client_asked: bool) -> None:
    stream = b"".join(STREAM).replace(b"\n", b"\r\n")
    expected = stream if client_asked else stream.replace(USAGE_CHUNK.replace(b"\n", b"\r\n"), b"")
    for cut in range(len(stream) + 1):
        meter = OpenAIStreamMeter(hide_usage_chunk=not client_asked)
        assert run(meter, [stream[:cut], stream[cut:]]) == expected, cut
        assert meter.usage is not None
        assert meter.done


def test_meter_keeps_usage_sent_alongside_choices() -> None:
    # Some servers put usage in the finish chunk: it carries a choice, so it is never hidden.
    last = chunk({}, "length", usage=USAGE)
    meter = OpenAIStreamMeter(hide_usage_chunk=True)
    assert meter.feed(last) == last
    assert meter.usage == Usage(prompt_tokens=9, completion_tokens=2, cached_tokens=4)


def test_meter_ignores_null_usage() -> None:
    meter = OpenAIStreamMeter(hide_usage_chunk=True)
    data = chunk({"content": "x"}, usage=None)
    assert meter.feed(data) == data
    assert meter.usage is None


def test_meter_forwards_and_remembers_an_in_stream_error() -> None:
    error = b'data: {"error": {"message": "The server had an error", "type": "server_error"}}\n\n'
    meter = OpenAIStreamMeter(hide_usage_chunk=True)
    assert (
        run(meter, [chunk({"content": "partial"}), error]) == chunk({"content": "partial"}) + error
    )
    assert meter.error == "The server had an error"
    assert not meter.done


def test_meter_returns_the_unterminated_tail_on_close() -> None:
    meter = OpenAIStreamMeter(hide_usage_chunk=True)
    assert meter.feed(b"data: [DO") == b""
    assert meter.feed(b"NE]") == b""
    assert meter.close() == b"data: [DONE]"
    assert meter.done


def test_meter_relays_malformed_json_untouched() -> None:
    meter = OpenAIStreamMeter(hide_usage_chunk=True)
    bad = b'data: {"choices": [\n\n'
    assert meter.feed(bad) == bad


def test_meter_parses_only_events_that_may_carry_metering(parsed_payloads: list[bytes]) -> None:
    parsed = parsed_payloads
    contents = [chunk({"content": f"token {index}"}) for index in range(50)]
    meter = OpenAIStreamMeter(hide_usage_chunk=True)
    run(meter, [chunk({"role": "assistant", "content": ""}), *contents, *STREAM[4:]])
    # the usage chunk only
    assert len(parsed) == 1
    assert meter.usage is not None


# --- registry -----------------------------------------------------------------------------


def test_registry_returns_shared_instances() -> None:
    assert isinstance(chat_adapter("openai"), OpenAIAdapter)
    assert isinstance(chat_adapter("mock"), MockAdapter)
    assert chat_adapter("openai") is chat_adapter("openai")


def test_registry_unknown_protocol() -> None:
    with pytest.raises(KeyError, match="no-such") as caught:
        chat_adapter("no-such")
    assert "openai" in str(caught.value)
