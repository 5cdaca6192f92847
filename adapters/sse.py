"""Sans-I/O Server-Sent Events: split a byte stream into raw events, read their data.

An event ends at a blank line: a line ending (`\\n`, `\\r\\n` or `\\r`) immediately followed by
another one. `SSESplitter` hands out each event as the exact bytes received, terminator
included, so a relay can forward them unchanged and the concatenation of everything it returns
(plus `flush()`) is the input.

Terminators are found with `bytes.find`/`bytes.split`, never byte by byte. The only
two-byte sequences that start a blank line are `\\n\\n`, `\\n\\r` and `\\r\\r` (`\\r\\n` is a single
line ending). When the blank line itself starts with `\\r` after a `\\n` (a CRLF stream), the
event is held until the next byte shows whether a `\\n` follows, so an event split inside its
`\\r\\n\\r\\n` comes out identical. After `\\r\\r` (a CR-only stream) the event is released at
once: a following `\\n` would merely open the next event with an empty line, which dispatches
nothing.

A relay that reads only a few events can skip the split: in a buffer without `\\r`,
`lf_events_end` and `lf_event_bounds` give the same event bounds as the split would, from a
byte search's hit.
"""

from __future__ import annotations

_LF_LF = b"\n\n"
# `CR in buffer` with an int: `b"\r" in buffer` first tries the bytes as an int, and the
# TypeError it raises and clears costs several times the search.
CR = ord("\r")
_LF_CR = b"\n\r"
_CR_CR = b"\r\r"
_NOT_FOUND = -1
_SIZE_SAMPLE = 16 * 1024  # `first_event_size` reads no further


class SSESplitter:
    """Incremental splitter: `feed` bytes, get complete raw events; the tail is buffered."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer + data if self._buffer else data
        events, end = split_events(buffer)
        self._buffer = buffer[end:]
        return events

    def flush(self) -> bytes:
        """Return and forget the bytes of an unterminated last event."""
        rest, self._buffer = self._buffer, b""
        return rest


def split_events(buffer: bytes) -> tuple[list[bytes], int]:
    """The whole events at the start of `buffer`, and where the incomplete rest begins."""
    if CR in buffer:
        return _split_general(buffer)
    return _split_lf(buffer)


def lf_events_end(buffer: bytes) -> int:
    """Where the whole events at the start of a buffer without `\\r` end."""
    blank = buffer.rfind(_LF_LF)
    return 0 if blank < 0 else _paired_end(buffer, 0, blank)


def first_event_size(buffer: bytes) -> int:
    """The length of the first whole event in `buffer`; 0 when none ends in it."""
    if CR not in buffer:
        blank = buffer.find(_LF_LF)
        return 0 if blank < 0 else blank + 2
    events, _ = _split_general(buffer[:_SIZE_SAMPLE])
    return len(events[0]) if events else 0


def lf_event_bounds(buffer: bytes, start: int, index: int) -> tuple[int, int]:
    """Start and end of the whole event holding `buffer[index]`, in a buffer without `\\r`.

    `start` is the start of an event at or before `index`; `buffer[index]` is not `\\n` and
    its event is complete (it ends at or before `lf_events_end(buffer)`).
    """
    blank = buffer.rfind(_LF_LF, start, index)
    if blank < 0:
        first = start
    elif blank > start and buffer[blank - 1] == 0x0A:  # three newlines or more: rare
        first = _paired_end(buffer, start, blank)
    else:
        first = blank + 2
    return first, buffer.find(_LF_LF, index) + 2


def lf_event_data(buffer: bytes, first: int, stop: int) -> bytes | None:
    """`event_data(buffer[first:stop])` for an event of a buffer without `\r`, read in
    place when it is the usual single data line."""
    if buffer.startswith(b"data: ", first) and buffer.find(b"\n", first, stop) == stop - 2:
        return buffer[first + 6 : stop - 2]
    return _data_lines(buffer[first:stop])


def _paired_end(buffer: bytes, start: int, blank: int) -> int:
    """Where the events ended by the newlines up to `blank + 2` end (`start`: an event's).

    Events end at the non-overlapping `\\n\\n` found from the left, as `bytes.split` finds
    them, and `buffer[blank : blank + 2]` is the last `\\n\\n` of its run of newlines. The
    run's newlines pair up from its first one (or from `start`); an odd one left over opens
    the next event.
    """
    run = blank
    while run > start and buffer[run - 1] == 0x0A:  # three newlines or more: rare
        run -= 1
    return run + (blank + 2 - run) // 2 * 2


def _split_lf(buffer: bytes) -> tuple[list[bytes], int]:
    """The common case, no `\\r` at all: one C-level split."""
    parts = buffer.split(_LF_LF)
    tail = parts.pop()
    if not parts:
        return [], 0
    return [part + _LF_LF for part in parts], len(buffer) - len(tail)


def _split_general(buffer: bytes) -> tuple[list[bytes], int]:
    events: list[bytes] = []
    start = 0
    # Next known position of each pattern at or after `start`; len(buffer) when absent.
    # Remembering misses keeps a chunk of many events linear in its size.
    found = [_find(buffer, _LF_LF, 0), _find(buffer, _LF_CR, 0), _find(buffer, _CR_CR, 0)]
    while True:
        end = _event_end(buffer, start, found)
        if end == _NOT_FOUND:
            return events, start
        events.append(buffer[start:end])
        start = end


def _find(buffer: bytes, pattern: bytes, start: int) -> int:
    index = buffer.find(pattern, start)
    return len(buffer) if index < 0 else index


def _event_end(buffer: bytes, start: int, found: list[int]) -> int:
    """End (exclusive) of the event starting at `start`, or -1 if it is not complete yet."""
    size = len(buffer)
    patterns = (_LF_LF, _LF_CR, _CR_CR)
    for slot, pattern in enumerate(patterns):
        if found[slot] < start:
            found[slot] = _find(buffer, pattern, start)
    index = min(found)
    if index >= size:
        return _NOT_FOUND
    if buffer[index + 1] == 0x0A or buffer[index] == 0x0D:  # "\n\n" or "\r\r"
        return index + 2
    # "\n\r": the blank line is "\r" or "\r\n"; wait for the byte that decides.
    if index + 2 >= size:
        return _NOT_FOUND
    return index + 3 if buffer[index + 2] == 0x0A else index + 2


def event_data(raw_event: bytes) -> bytes | None:
    """The event's `data` field: its lines' values joined with `\\n`; None when it has none.

    Per the SSE spec one leading space of each value is dropped; comments (`:`) and other
    fields are ignored.
    """
    if raw_event.startswith(b"data: "):
        newline = raw_event.find(b"\n")
        if newline > 0 and raw_event[newline + 1 :] in (b"\n", b"\r\n"):
            # The usual shape, one data line: no split needed.
            value = raw_event[6:newline]
            if value.endswith(b"\r"):
                value = value[:-1]
            if CR not in value:
                return value
    return _data_lines(raw_event)


def _data_lines(raw_event: bytes) -> bytes | None:
    if CR in raw_event:
        raw_event = raw_event.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    values: list[bytes] = []
    for line in raw_event.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            values.append(value[1:] if value.startswith(b" ") else value)
        elif line == b"data":
            values.append(b"")
    if not values:
        return None
    return b"\n".join(values)
