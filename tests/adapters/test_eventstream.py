from __future__ import annotations

import struct
import uuid
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.errors import UpstreamProtocolError
from adapters.eventstream import EventStreamDecoder, decode_headers, encode_message

# A frame as AWS documents it: one `:event-type` header and a JSON payload.
FRAME = encode_message(
    {":event-type": "contentBlockDelta", ":message-type": "event"},
    b'{"contentBlockIndex":0,"delta":{"text":"Hi"}}',
)


def test_round_trip_and_layout() -> None:
    total, headers_length, _ = struct.unpack(">III", FRAME[:12])
    assert total == len(FRAME)
    [message] = EventStreamDecoder().feed(FRAME)
    assert message.headers == {":event-type": "contentBlockDelta", ":message-type": "event"}
    assert message.payload == b'{"contentBlockIndex":0,"delta":{"text":"Hi"}}'
    assert headers_length == len(FRAME) - 16 - len(message.payload)


def test_frame_built_by_hand() -> None:
    # Built field by field from the documented layout, not by `encode_message`.
    [message] = EventStreamDecoder().feed(_int32_frame())
    assert message.headers == {"event-id": 0x0000A00C}
    assert message.payload == b"{'foo':'bar'}"


def _int32_frame() -> bytes:
    headers = b"\x08event-id\x04" + struct.pack(">i", 0x0000A00C)
    payload = b"{'foo':'bar'}"
    total = 16 + len(headers) + len(payload)
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def test_every_header_type() -> None:
    header_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    data = (
        b"\x01t\x00" + b"\x01f\x01" + b"\x01b\x02\xff" + b"\x01s\x03\x01\x00"
        + b"\x01i\x04\x00\x00\x00\x05" + b"\x01l\x05" + struct.pack(">q", -2)
        + b"\x01r\x06\x00\x02\x00\x01" + b"\x01S\x07\x00\x02ok"
        + b"\x01T\x08" + struct.pack(">q", 1_700_000_000_000) + b"\x01u\x09" + header_id.bytes
    )  # fmt: skip
    assert decode_headers(data) == {
        "t": True, "f": False, "b": -1, "s": 256, "i": 5, "l": -2, "r": b"\x00\x01",
        "S": "ok", "T": 1_700_000_000_000, "u": header_id,
    }  # fmt: skip


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=4), st.data())
def test_any_split_gives_the_same_messages(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_message({":n": str(i)}, p) for i, p in enumerate(payloads))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=8)))
    decoder = EventStreamDecoder()
    messages, start = [], 0
    for cut in [*cuts, len(stream)]:
        messages += decoder.feed(stream[start:cut])
        start = cut
    assert [m.payload for m in messages] == payloads
    assert [m.headers[":n"] for m in messages] == [str(i) for i in range(len(payloads))]
    assert decoder.pending == 0


def test_corruption_is_a_protocol_error() -> None:
    broken_payload = FRAME[:-6] + b"X" + FRAME[-5:]
    with pytest.raises(UpstreamProtocolError, match="message checksum"):
        EventStreamDecoder().feed(broken_payload)
    broken_prelude = b"\x00\x00\x00\x99" + FRAME[4:]
    with pytest.raises(UpstreamProtocolError, match="prelude checksum"):
        EventStreamDecoder().feed(broken_prelude)
    head = struct.pack(">II", 4, 0)
    with pytest.raises(UpstreamProtocolError, match="impossible length"):
        EventStreamDecoder().feed(head + struct.pack(">I", zlib.crc32(head)))


def test_incomplete_frame_waits() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(FRAME[:20]) == []
    assert decoder.pending == 20
    assert len(decoder.feed(FRAME[20:])) == 1
