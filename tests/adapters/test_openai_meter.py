"""`OpenAIStreamMeter` under any chunking: the same bytes out and the same meter readings.

Each case is a realistic stream with what it must come out as; it is fed whole, split at
every byte, and in seeded random chunkings, in LF, CRLF and CR framings.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from adapters.base import Usage
from adapters.openai import OpenAIStreamMeter

Readings = tuple[Usage | None, bool, str | None]  # usage, done, error


def data(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def spaced(payload: dict[str, Any]) -> bytes:
    """The event as servers using `json.dumps` defaults write it: `": "` and `", "`."""
    text = orjson.dumps(payload).replace(b'":', b'": ').replace(b',"', b', "')
    return b"data: " + text + b"\n\n"


def delta(fields: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": fields, "logprobs": None, "finish_reason": finish}
    return {"id": "c1", "object": "chat.completion.chunk", "choices": [choice], **extra}


USAGE = {
    "prompt_tokens": 19,
    "completion_tokens": 18,
    "prompt_tokens_details": {"cached_tokens": 3},
}
READ_USAGE = Usage(prompt_tokens=19, completion_tokens=18, cached_tokens=3)
ROLE = data(delta({"role": "assistant", "content": ""}, usage=None))
TEXT = [data(delta({"content": f" word{index}"}, usage=None)) for index in range(6)]
FINISH = data(delta({}, "stop", usage=None))
USAGE_ONLY = data({"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": USAGE})
DONE = b"data: [DONE]\n\n"
ERROR = b'data: {"error": {"message": "The server had an error", "type": "server_error"}}\n\n'
PING = b": ping\n\n"
# One chunk as two data lines: the payload is their values joined with a newline.
MULTI_LINE_FINISH = (
    b'data: {"id":"c1","choices":[{"index":0,\ndata: "delta":{},"finish_reason":"length"}]}\n\n'
)
NAMED = b"event: message\nid: 7\n" + data(delta({"content": " named"}))
# Markers outside the data field are not read.
DECOY = b': "usage":{"prompt_tokens":1} "finish_reason":"x" "error" [DONE]\n\n'


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    events: list[bytes]  # as written upstream, LF-framed
    hidden: tuple[int, ...]  # indexes of the events the client must not see
    hide_usage_chunk: bool
    readings: Readings


CASES = [
    Case(
        "bench-usage-hidden",
        [ROLE, *TEXT, FINISH, USAGE_ONLY, DONE],
        (8,),
        True,
        (READ_USAGE, True, None),
    ),
    Case(
        "bench-usage-shown",
        [ROLE, *TEXT, FINISH, USAGE_ONLY, DONE],
        (),
        False,
        (READ_USAGE, True, None),
    ),
    Case(
        "no-usage-chunk",
        [ROLE, *TEXT, FINISH, DONE],
        (),
        True,
        (None, True, None),
    ),
    Case(
        "no-done",
        [ROLE, *TEXT, FINISH, USAGE_ONLY],
        (8,),
        True,
        (READ_USAGE, False, None),
    ),
    Case(
        "error-mid-stream",
        [ROLE, *TEXT[:3], ERROR],
        (),
        True,
        (None, False, "The server had an error"),
    ),
    Case(
        "error-before-content",
        [ROLE, PING, ERROR],
        (),
        True,
        (None, False, "The server had an error"),
    ),
    Case(  # as vLLM ends a stream it fails
        "error-then-done-then-a-ping",
        [ROLE, *TEXT[:2], ERROR, DONE, PING],
        (),
        True,
        (None, True, "The server had an error"),
    ),
    Case(  # the stream went on: it did not end on the error
        "error-then-content",
        [ROLE, ERROR, PING, *TEXT[:2], FINISH, USAGE_ONLY, DONE],
        (6,),
        True,
        (READ_USAGE, True, None),
    ),
    Case(
        "pings-named-events-multi-line-data",
        [PING, ROLE, PING, TEXT[0], NAMED, PING, TEXT[1], MULTI_LINE_FINISH, USAGE_ONLY, DONE],
        (8,),
        True,
        (READ_USAGE, True, None),
    ),
    Case(
        "decoys-in-comments",
        [ROLE, DECOY, TEXT[0], DECOY, TEXT[1], FINISH, DECOY, DONE],
        (),
        True,
        (None, True, None),
    ),
    Case(
        "extra-blank-lines",
        [ROLE, b"\n\n", TEXT[0], b"\n\n", b"\n" + FINISH, b"\n\n\n\n", b"\n" + USAGE_ONLY, DONE],
        (6,),
        True,
        (READ_USAGE, True, None),
    ),
    Case(
        "spaced-json-usage-with-the-finish",
        [
            spaced(delta({"role": "assistant"})),
            *[spaced(delta({"content": f"t{index}"})) for index in range(4)],
            spaced(delta({}, "tool_calls", usage=USAGE)),
            DONE,
        ],
        (),
        True,
        (READ_USAGE, True, None),
    ),
    Case(
        "done-in-content-and-a-comment-after-the-real-one",
        [ROLE, data(delta({"content": "data: [DONE]"})), TEXT[0], FINISH, DONE, DECOY],
        (),
        True,
        (None, True, None),
    ),
    Case(
        "done-only-in-content",
        [ROLE, TEXT[0], data(delta({"content": "[DONE]"})), FINISH],
        (),
        True,
        (None, False, None),
    ),
    Case(  # read whole: the usage object is not the event's last member
        "usage-first-shown",
        [ROLE, TEXT[0], data({"usage": USAGE, "id": "c1", "choices": []}), DONE],
        (),
        False,
        (READ_USAGE, True, None),
    ),
    Case(  # what an upstream says was used is billed, error or not; an error is never hidden
        "usage-with-the-error",
        [ROLE, TEXT[0], data({"error": {"message": "cut short"}, "usage": USAGE})],
        (),
        True,
        (READ_USAGE, False, "cut short"),
    ),
    Case(
        "usage-every-chunk",
        [data(delta({"content": f"t{index}"}, usage=USAGE)) for index in range(5)],
        (),
        True,
        (READ_USAGE, False, None),
    ),
]

FRAMINGS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


def framed(events: list[bytes], ending: bytes) -> list[bytes]:
    return [event.replace(b"\n", ending) for event in events]


def run(case: Case, chunks: list[bytes]) -> tuple[bytes, Readings]:
    meter = OpenAIStreamMeter(hide_usage_chunk=case.hide_usage_chunk)
    out = b"".join([meter.feed(chunk) for chunk in chunks]) + meter.close()
    return out, (meter.usage, meter.done, meter.error)


def chunkings(stream: bytes, seed: int) -> list[list[bytes]]:
    """Every two-way split, and seeded random splits into 2 to 12 chunks."""
    splits = [[stream[:cut], stream[cut:]] for cut in range(len(stream) + 1)]
    rng = random.Random(seed)
    for _ in range(100):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 11)))
        bounds = [0, *cuts, len(stream)]
        splits.append([stream[start:end] for start, end in itertools.pairwise(bounds)])
    return splits


@pytest.mark.parametrize("ending", FRAMINGS.values(), ids=FRAMINGS.keys())
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_any_chunking_gives_the_expected_bytes_and_readings(case: Case, ending: bytes) -> None:
    events = framed(case.events, ending)
    stream = b"".join(events)
    shown = b"".join([event for index, event in enumerate(events) if index not in case.hidden])
    assert run(case, [stream]) == (shown, case.readings)
    for seed, chunks in enumerate(chunkings(stream, seed=len(stream))):
        assert run(case, chunks) == (shown, case.readings), (seed, chunks)


@pytest.mark.parametrize("ending", FRAMINGS.values(), ids=FRAMINGS.keys())
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_one_byte_at_a_time(case: Case, ending: bytes) -> None:
    stream = b"".join(framed(case.events, ending))
    whole = run(case, [stream])
    assert run(case, [stream[index : index + 1] for index in range(len(stream))]) == whole


def test_lf_and_crlf_in_one_stream() -> None:
    case = CASES[0]
    events = [*case.events[:4], *framed(case.events[4:7], b"\r\n"), *case.events[7:]]
    stream = b"".join(events)
    shown = b"".join([event for index, event in enumerate(events) if index not in case.hidden])
    for chunks in [[stream], *chunkings(stream, seed=1)]:
        assert run(case, chunks) == (shown, case.readings)


def test_whole_events_with_nothing_hidden_come_back_as_the_same_object() -> None:
    meter = OpenAIStreamMeter(hide_usage_chunk=True)
    meter.feed(ROLE + TEXT[0])
    plain = b"".join(TEXT)
    assert meter.feed(plain) is plain
    last = FINISH + USAGE_ONLY + DONE
    assert meter.feed(last) == FINISH + DONE
    assert meter.usage == READ_USAGE


def test_a_whole_stream_in_one_chunk_parses_only_what_it_meters(
    parsed_payloads: list[bytes],
) -> None:
    parsed = parsed_payloads
    stream = b"".join([ROLE, *TEXT, *TEXT, FINISH, USAGE_ONLY, DONE])
    meter = OpenAIStreamMeter(hide_usage_chunk=True)
    meter.feed(stream)
    # the usage chunk: none of the others holds a marker
    assert parsed == [USAGE_ONLY[6:-2]]
    assert meter.done


def test_usage_in_every_chunk_reads_only_the_last_one(parsed_payloads: list[bytes]) -> None:
    events = [data(delta({"content": f"t{index}"}, usage=USAGE)) for index in range(5)]
    last = data(delta({}, "stop", usage={**USAGE, "completion_tokens": 40}))
    meter = OpenAIStreamMeter(hide_usage_chunk=False)
    meter.feed(b"".join([*events, last, DONE]))
    assert parsed_payloads == [orjson.dumps({**USAGE, "completion_tokens": 40})]  # alone
    assert meter.usage == Usage(prompt_tokens=19, completion_tokens=40, cached_tokens=3)
