"""Answers in Anthropic's shapes: chat completions and chunk streams converted, or relayed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from adapters.anthropic import AnthropicMessagesAdapter, AnthropicRelayMeter
from adapters.base import Channel, ChatResult, Usage
from adapters.messages_api import MessagesAdapter, MessagesStreamMeter, completion_to_message
from adapters.openai import OpenAIAdapter, OpenAIStreamMeter
from adapters.sse import SSESplitter, event_data
from tests.adapters.helpers import feed_bytewise

RECORDED = (Path(__file__).parents[1] / "fakes" / "recorded" / "anthropic_stream.sse").read_bytes()


def events(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    splitter = SSESplitter()
    out = []
    for raw in [*splitter.feed(data), splitter.flush()]:
        payload = event_data(raw) if raw else None
        if payload is not None:
            name = raw.split(b"\n", 1)[0].removeprefix(b"event: ").decode()
            parsed = orjson.loads(payload)
            assert parsed["type"] == name
            out.append((name, parsed))
    return out


def test_completion_to_message() -> None:
    answer = {
        "model": "gpt-x",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Sure.",
                    "reasoning_content": "hm",
                    "tool_calls": [
                        {"id": "c1", "type": "function",
                         "function": {"name": "f", "arguments": '{"a": 1}'}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }  # fmt: skip
    message = completion_to_message(
        answer, Usage(prompt_tokens=10, completion_tokens=4, cached_tokens=6)
    )
    assert message["content"] == [
        {"type": "thinking", "thinking": "hm", "signature": ""},
        {"type": "text", "text": "Sure."},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {
        "input_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 6,
        "output_tokens": 4,
    }
    assert message["id"].startswith("msg_")
    assert message["model"] == "gpt-x"


def chunks(deltas: list[dict[str, Any]], finish: str) -> bytes:
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x"}
    items = [{**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    items.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    usage = {"prompt_tokens": 12, "completion_tokens": 5}
    items.append({**head, "choices": [], "usage": usage})
    return b"".join(b"data: " + orjson.dumps(i) + b"\n\n" for i in items) + b"data: [DONE]\n\n"


def test_chunk_stream_becomes_message_events_split_anywhere() -> None:
    data = chunks(
        [
            {"role": "assistant", "content": ""},
            {"reasoning_content": "Think."},
            {"content": "Calling "},
            {"content": "now."},
            {"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                             "function": {"name": "f", "arguments": ""}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]},
            {"tool_calls": [{"index": 1, "id": "c2", "type": "function",
                             "function": {"name": "g", "arguments": "{}"}}]},
        ],
        "tool_calls",
    )  # fmt: skip
    meter = MessagesStreamMeter(OpenAIStreamMeter(hide_usage_chunk=False))
    seen = events(feed_bytewise(meter, data))
    names = [name for name, _ in seen]
    assert names == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    starts = [e["content_block"] for name, e in seen if name == "content_block_start"]
    assert [b["type"] for b in starts] == ["thinking", "text", "tool_use", "tool_use"]
    assert [e["index"] for name, e in seen if name == "content_block_start"] == [0, 1, 2, 3]
    deltas = [e["delta"] for name, e in seen if name == "content_block_delta" and e["index"] == 2]
    assert "".join(d["partial_json"] for d in deltas) == '{"a": 1}'
    delta = seen[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"]["input_tokens"] == 12
    assert delta["usage"]["output_tokens"] == 5
    assert meter.done
    assert meter.usage == Usage(12, 5, 0)


def test_chunk_stream_error_becomes_an_error_event() -> None:
    meter = MessagesStreamMeter(OpenAIStreamMeter(hide_usage_chunk=False))
    out = meter.feed(b'data: {"error": {"message": "boom"}}\n\n')
    assert events(out) == [
        ("error", {"type": "error", "error": {"type": "api_error", "message": "boom"}})
    ]
    assert not meter.done


def test_messages_adapter_converts_the_non_stream_answer() -> None:
    adapter = MessagesAdapter(OpenAIAdapter())
    answer = {
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                     "finish_reason": "length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }  # fmt: skip
    result = adapter.chat_result(200, {}, orjson.dumps(answer))
    message = orjson.loads(result.body)
    assert message["type"] == "message"
    assert message["stop_reason"] == "max_tokens"
    assert message["content"] == [{"type": "text", "text": "Hi"}]
    assert result.usage == Usage(3, 2, 0)


def test_native_relay_keeps_bytes_and_reads_usage() -> None:
    meter = AnthropicRelayMeter({})
    assert feed_bytewise(meter, RECORDED) == RECORDED
    assert meter.done
    assert meter.finish_reason == "tool_calls"
    assert meter.usage == Usage(prompt_tokens=125, completion_tokens=42, cached_tokens=100)


def test_native_request_keeps_the_body_and_passes_beta_headers() -> None:
    channel = Channel(
        code="ch",
        protocol="anthropic",
        url="https://api.anthropic.com",
        deploy_name="claude-up",
        credentials={"api_key": "k"},
        options={"anthropic_beta": "a"},
    )
    body = {"model": "claude", "messages": [{"role": "user", "content": "x"}], "top_k": 3}
    request = AnthropicMessagesAdapter().chat_request(channel, body, {"Anthropic-Beta": "b"})
    assert orjson.loads(request.body) == {**body, "model": "claude-up", "max_tokens": 4096}
    assert request.headers["anthropic-beta"] == "a,b"
    result = AnthropicMessagesAdapter().chat_result(
        200,
        {},
        b'{"type":"message","content":[],"stop_reason":"end_turn","usage":{"output_tokens":2}}',
    )
    assert isinstance(result, ChatResult)
    assert result.usage == Usage(0, 2, 0)
