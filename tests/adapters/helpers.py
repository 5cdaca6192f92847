"""Driving adapters in tests: send their requests to a fake, read OpenAI chunk output."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from yarl import URL

from adapters.base import Channel, ChatAdapter, ChatResult, StreamMeter
from adapters.sse import SSESplitter, event_data

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@dataclass
class Answer:
    """OpenAI chunks read back into one answer."""

    content: str = ""
    reasoning: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    chunks: int = 0
    done: bool = False


def chunk_events(data: bytes) -> list[dict[str, Any] | str]:
    """The data of each SSE event: parsed JSON, or the raw text (`[DONE]`)."""
    splitter = SSESplitter()
    events: list[dict[str, Any] | str] = []
    for raw in [*splitter.feed(data), splitter.flush()]:
        payload = event_data(raw) if raw else None
        if payload is None:
            continue
        events.append(payload.decode() if payload == b"[DONE]" else orjson.loads(payload))
    return events


def read_stream(data: bytes) -> Answer:
    answer = Answer()
    for event in chunk_events(data):
        if event == "[DONE]":
            answer.done = True
            continue
        assert isinstance(event, dict)
        if event["object"] != "chat.completion.chunk":  # Azure's prompt_filter_results
            assert event["choices"] == [], event
            continue
        answer.chunks += 1
        answer.usage = event.get("usage") or answer.usage
        for choice in event["choices"]:
            _read_delta(answer, choice["delta"])
            answer.finish_reason = choice.get("finish_reason") or answer.finish_reason
    return answer


def _read_delta(answer: Answer, delta: dict[str, Any]) -> None:
    answer.content += delta.get("content") or ""
    answer.reasoning += delta.get("reasoning_content") or ""
    for call in delta.get("tool_calls") or ():
        index = call["index"]
        if index == len(answer.calls):
            answer.calls.append({"id": call["id"], "name": call["function"]["name"], "args": ""})
        answer.calls[index]["args"] += call["function"].get("arguments") or ""


def feed_in_pieces(meter: StreamMeter, data: bytes, cuts: Iterable[int]) -> bytes:
    """Feed `data` cut at the given offsets, then close; everything the meter handed out."""
    out, start = [], 0
    for cut in sorted({c for c in cuts if 0 < c < len(data)}):
        out.append(meter.feed(data[start:cut]))
        start = cut
    out.append(meter.feed(data[start:]))
    out.append(meter.close())
    return b"".join(out)


def feed_bytewise(meter: StreamMeter, data: bytes) -> bytes:
    return feed_in_pieces(meter, data, range(1, len(data)))


def message_of(result: ChatResult) -> dict[str, Any]:
    body = orjson.loads(result.body)
    assert body["object"] == "chat.completion"
    message: dict[str, Any] = body["choices"][0]["message"]
    return message


async def exchange(
    adapter: ChatAdapter, channel: Channel, body: dict[str, Any]
) -> ChatResult | bytes:
    """Send the adapter's request to the channel's (fake) upstream: a result, or stream bytes.

    The URL is sent byte for byte (`encoded=True`): a signed URL must reach the upstream as
    it was signed, and yarl would otherwise decode `%3A` in a Bedrock model id.
    """
    request = adapter.chat_request(channel, body, {})
    url = URL(request.url, encoded=True)
    headers = dict(request.headers)
    async with (
        aiohttp.ClientSession() as session,
        session.request(request.method, url, data=request.body, headers=headers) as response,
    ):
        data = await response.read()
        if not request.stream or response.status >= 400:
            return adapter.chat_result(response.status, response.headers, data)
        meter = adapter.chat_stream(body)
        out = meter.feed(data) + meter.close()
        assert meter.done, "the stream did not end with [DONE]"
        return out
