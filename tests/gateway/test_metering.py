"""The stream tally: how many events a relayed stream held, without counting each one."""

from __future__ import annotations

import random

import orjson

from gateway.metering import StreamTally


def chunk_event(content: str, finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-0123456789",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def test_a_streams_events_are_told_within_a_tenth() -> None:
    rng = random.Random(7)
    words = ["a", "token", "of", "several", "characters", "ok"]
    events = [chunk_event(rng.choice(words)) for _ in range(200)]
    events += [chunk_event("", "stop"), b"data: [DONE]\n\n"]
    stream = b"".join(events)
    tally = StreamTally()
    start = 0
    while start < len(stream):  # relayed in chunks of any size, the first one small
        stop = start + (40 if not start else rng.randint(1, 3000))
        tally.add(stream[start:stop])
        start = stop
    assert abs(tally.events - len(events)) <= len(events) / 10


def test_nothing_relayed_is_no_event_and_a_fragment_is_one() -> None:
    tally = StreamTally()
    assert tally.events == 0
    tally.add(b"data: {")
    assert tally.events == 1
