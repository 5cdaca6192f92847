from __future__ import annotations

import itertools
import random

import pytest

from adapters.sse import (
    SSESplitter,
    event_data,
    first_event_size,
    lf_event_bounds,
    lf_events_end,
    split_events,
)

LF_EVENTS = [
    b'data: {"a":1}\n\n',
    b": keep-alive\n\n",
    b"event: message\nid: 7\ndata: first\ndata: second\n\n",
    b"data:no-space\n\n",
    b"data: [DONE]\n\n",
]


def with_line_ending(events: list[bytes], ending: bytes) -> list[bytes]:
    return [event.replace(b"\n", ending) for event in events]


def feed_all(chunks: list[bytes]) -> tuple[list[bytes], bytes]:
    splitter = SSESplitter()
    events: list[bytes] = []
    for chunk in chunks:
        events.extend(splitter.feed(chunk))
    return events, splitter.flush()


STREAMS = pytest.mark.parametrize(
    "events",
    [
        LF_EVENTS,
        with_line_ending(LF_EVENTS, b"\r\n"),
        with_line_ending(LF_EVENTS, b"\r"),
    ],
    ids=["lf", "crlf", "cr"],
)


@STREAMS
def test_whole_stream_gives_each_event_with_its_terminator(events: list[bytes]) -> None:
    assert feed_all([b"".join(events)]) == (events, b"")


@STREAMS
def test_a_split_at_any_byte_gives_the_same_events(events: list[bytes]) -> None:
    stream = b"".join(events)
    for cut in range(len(stream) + 1):
        assert feed_all([stream[:cut], stream[cut:]]) == (events, b""), cut


@STREAMS
def test_one_byte_at_a_time_gives_the_same_events(events: list[bytes]) -> None:
    stream = b"".join(events)
    assert feed_all([stream[i : i + 1] for i in range(len(stream))]) == (events, b"")


@STREAMS
def test_random_chunking_gives_the_same_events(events: list[bytes]) -> None:
    stream = b"".join(events)
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(stream)), 6))
        bounds = [0, *cuts, len(stream)]
        chunks = [stream[start:end] for start, end in itertools.pairwise(bounds)]
        assert feed_all(chunks) == (events, b"")


def test_crlf_event_is_held_until_its_last_lf_arrives() -> None:
    splitter = SSESplitter()
    assert splitter.feed(b"data: x\r\n\r") == []
    assert splitter.feed(b"\ndata: y") == [b"data: x\r\n\r\n"]
    assert splitter.flush() == b"data: y"
    assert splitter.flush() == b""


def test_cr_only_event_is_released_at_once() -> None:
    splitter = SSESplitter()
    assert splitter.feed(b"data: x\r\r") == [b"data: x\r\r"]


def test_partial_tail_is_buffered_and_flushed() -> None:
    splitter = SSESplitter()
    assert splitter.feed(b"data: one\n\ndata: tw") == [b"data: one\n\n"]
    assert splitter.feed(b"o\n") == []
    assert splitter.flush() == b"data: two\n"


def test_mixed_line_endings() -> None:
    stream = b"data: a\r\n\ndata: b\n\r\ndata: c\n\r"
    events, rest = feed_all([stream])
    assert events == [b"data: a\r\n\n", b"data: b\n\r\n"]
    assert rest == b"data: c\n\r"  # "\r" or "\r\n"? undecided until more bytes come
    assert b"".join(events) + rest == stream


def test_extra_blank_lines_are_kept_as_empty_events() -> None:
    stream = b"data: a\n\n\n\ndata: b\n\n"
    events, rest = feed_all([stream])
    assert events == [b"data: a\n\n", b"\n\n", b"data: b\n\n"]
    assert [event_data(event) for event in events] == [b"a", None, b"b"]
    assert rest == b""


@pytest.mark.parametrize(
    ("raw", "data"),
    [
        (b'data: {"a":1}\n\n', b'{"a":1}'),
        (b"data: x\r\n\r\n", b"x"),
        (b"data: x\r\r", b"x"),
        (b"data:x\n\n", b"x"),
        (b"data:  two spaces\n\n", b" two spaces"),
        (b"data\n\n", b""),
        (b"data: one\ndata: two\n\n", b"one\ntwo"),
        (b"data: one\r\ndata: two\r\n\r\n", b"one\ntwo"),
        (b"data: one\rdata: two\r\r", b"one\ntwo"),
        (b"data: a\rb\n\n", b"a"),  # a lone CR ends the line; "b" is a field without value
        (b": comment\ndata: x\nid: 3\nevent: e\nretry: 10\n\n", b"x"),
        (b"event: ping\n\n", None),
        (b": keep-alive\n\n", None),
        (b"\n\n", None),
        (b"datum: x\n\n", None),
        (b"data: unterminated", b"unterminated"),
    ],
)
def test_event_data(raw: bytes, data: bytes | None) -> None:
    assert event_data(raw) == data


@pytest.mark.parametrize(
    "stream",
    [
        b"".join(LF_EVENTS),
        b"\ndata: a\n\n\ndata: b\n\n\n\n\ndata: c\n\n\n\n: x\ndata: d\n",
        b"\n\n\n" + b"".join(LF_EVENTS) + b"\n\n\ndata: tail",
        b"data: unterminated\n",
        b"",
    ],
)
def test_lf_bounds_agree_with_the_split(stream: bytes) -> None:
    events, end = split_events(stream)
    assert lf_events_end(stream) == end
    start = 0
    for event in events:
        stop = start + len(event)
        for index in range(start, stop):
            if stream[index] != 0x0A:
                assert lf_event_bounds(stream, 0, index) == (start, stop), index
                assert lf_event_bounds(stream, start, index) == (start, stop), index
        start = stop


@STREAMS
def test_first_event_size_is_the_first_events_length(events: list[bytes]) -> None:
    stream = b"".join(events)
    assert first_event_size(stream) == len(events[0])
    assert first_event_size(events[0][:-1]) == 0  # its blank line not complete yet
    assert first_event_size(b"") == 0
