"""The channel options shared by every adapter, and `reasoning: split|merge`."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from adapters import chat_adapter, chat_adapter_for, chat_protocols
from adapters.base import Channel, ChatResult
from adapters.fc_simulate import FunctionCallAdapter
from adapters.openai import OpenAIStreamMeter
from adapters.options import ChannelOptions, DefaultsAdapter, client_body
from adapters.reasoning import ReasoningAdapter, ThinkMerge, ThinkSplit
from adapters.rewrite import RewritingMeter, rewrite_result
from tests.adapters.helpers import feed_bytewise, message_of, read_stream


def channel(protocol: str = "openai", **options: Any) -> Channel:
    return Channel(code="ch", protocol=protocol, url="https://up.test/v1", options=options)


def test_options_parsed_once_with_safe_defaults() -> None:
    options = ChannelOptions.of(
        channel(
            headers={"X-A": 1},
            drop_fields=["temperature"],
            max_tokens=256,
            reasoning="split",
            function_call_simulate=True,
        )
    )
    assert options == ChannelOptions({"X-A": "1"}, ("temperature",), 256, "split", True)
    assert ChannelOptions.of(channel(max_tokens=True, reasoning="weird", drop_fields="x")) == (
        ChannelOptions({}, (), None, None, False)
    )


def test_client_body_drops_fields_and_fills_the_limit_only_when_missing() -> None:
    ch = channel(drop_fields=["temperature"], max_tokens=256)
    body = {"model": "m", "messages": [], "temperature": 1.5}
    assert client_body(ch, body) == {"model": "m", "messages": [], "max_tokens": 256}
    assert client_body(ch, {"max_completion_tokens": 9})["max_completion_tokens"] == 9
    assert "max_tokens" not in client_body(ch, {"max_completion_tokens": 9})
    assert body["temperature"] == 1.5, "the client's body is not changed"


def test_chat_adapter_for_wraps_by_options() -> None:
    assert chat_protocols() >= {"openai", "azure", "anthropic", "gemini", "bedrock"}
    assert chat_adapter_for(channel()) is chat_adapter("openai")
    assert isinstance(chat_adapter_for(channel(max_tokens=5)), DefaultsAdapter)
    assert isinstance(chat_adapter_for(channel(reasoning="merge")), ReasoningAdapter)
    emulated = chat_adapter_for(channel("anthropic", function_call_simulate=True))
    assert isinstance(emulated, FunctionCallAdapter)
    assert chat_adapter_for(channel(function_call_simulate=True)) is not chat_adapter_for(
        channel(function_call_simulate=True)
    ), "one emulation wrapper per request"
    with pytest.raises(KeyError, match="known: anthropic, azure"):
        chat_adapter("nope")


def test_max_tokens_default_reaches_openai_upstreams() -> None:
    adapter = chat_adapter_for(channel(max_tokens=77))
    request = adapter.chat_request(channel(max_tokens=77), {"model": "m", "messages": []}, {})
    assert orjson.loads(request.body)["max_tokens"] == 77


def stream(deltas: list[dict[str, Any]]) -> bytes:
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events = [
        {**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    events.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({**head, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def test_split_moves_a_leading_think_block_split_anywhere() -> None:
    data = stream(
        [
            {"role": "assistant", "content": ""},
            {"content": "  <thi"},
            {"content": "nk>I should "},
            {"content": "greet.</th"},
            {"content": "ink>\n\n"},
            {"content": "Hello <think> tags stay."},
        ]
    )
    meter = RewritingMeter(OpenAIStreamMeter(hide_usage_chunk=False), ThinkSplit())
    answer = read_stream(feed_bytewise(meter, data))
    assert answer.reasoning == "I should greet."
    assert answer.content == "Hello <think> tags stay."
    assert answer.done
    assert answer.finish_reason == "stop"
    assert meter.usage is not None
    assert meter.usage.completion_tokens == 4


def test_split_leaves_answers_without_a_leading_block() -> None:
    data = stream([{"content": "No <think>here</think>."}])
    meter = RewritingMeter(OpenAIStreamMeter(hide_usage_chunk=True), ThinkSplit())
    assert read_stream(meter.feed(data)).content == "No <think>here</think>."
    unclosed = RewritingMeter(OpenAIStreamMeter(hide_usage_chunk=True), ThinkSplit())
    answer = read_stream(unclosed.feed(stream([{"content": "<think>cut off"}])))
    assert (answer.reasoning, answer.content) == ("cut off", "")


def test_merge_folds_reasoning_into_content() -> None:
    data = stream(
        [
            {"role": "assistant", "content": ""},
            {"reasoning_content": "Think"},
            {"reasoning_content": "ing."},
            {"content": "Answer."},
        ]
    )
    meter = RewritingMeter(OpenAIStreamMeter(hide_usage_chunk=True), ThinkMerge())
    answer = read_stream(feed_bytewise(meter, data))
    assert answer.content == "<think>Thinking.</think>Answer."
    assert answer.reasoning == ""
    only = RewritingMeter(OpenAIStreamMeter(hide_usage_chunk=True), ThinkMerge())
    assert read_stream(only.feed(stream([{"reasoning": "r"}]))).content == "<think>r</think>"


def completion(message: dict[str, Any]) -> ChatResult:
    body = {"object": "chat.completion", "choices": [{"index": 0, "message": message,
                                                       "finish_reason": "stop"}]}  # fmt: skip
    return ChatResult(body=orjson.dumps(body), usage=None, finish_reason="stop")


def test_non_stream_split_and_merge() -> None:
    split = rewrite_result(
        completion({"role": "assistant", "content": "<think>\nhm\n</think>\n\nYes."}), ThinkSplit()
    )
    message = message_of(split)
    assert (message["reasoning_content"], message["content"]) == ("\nhm\n", "Yes.")
    merged = rewrite_result(
        completion({"role": "assistant", "content": "Yes.", "reasoning_content": "hm"}),
        ThinkMerge(),
    )
    assert message_of(merged) == {"role": "assistant", "content": "<think>hm</think>Yes."}
    untouched = ChatResult(body=b"not json", usage=None)
    assert rewrite_result(untouched, ThinkMerge()) is untouched
