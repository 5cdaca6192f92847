"""AWS event-stream framing (`application/vnd.amazon.eventstream`), sans-I/O.

A message is:

    total length (u32) | headers length (u32) | prelude CRC32 (u32)
    headers | payload | message CRC32 (u32)

all big-endian; the prelude CRC covers the first 8 bytes and the message CRC everything
before it. A header is a name (u8 length + UTF-8), a type byte and a value; strings and byte
arrays carry a u16 length. `EventStreamDecoder.feed` takes bytes as they arrive and returns
the complete messages; a CRC mismatch or an impossible length is a protocol error, since the
rest of the stream cannot be trusted after it. `encode_message` writes the same format.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.errors import UpstreamProtocolError

PRELUDE = struct.Struct(">III")
CRC = struct.Struct(">I")
MIN_MESSAGE = PRELUDE.size + CRC.size
MAX_MESSAGE = 16 * 1024 * 1024
HeaderValue = bool | int | bytes | str | uuid.UUID

# type byte → struct format of the fixed-size integer types (8 is a timestamp in ms)
_INTEGERS = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}


@dataclass(frozen=True, slots=True)
class EventMessage:
    headers: Mapping[str, HeaderValue]
    payload: bytes


class EventStreamDecoder:
    """Incremental decoder: `feed` bytes, get the messages they complete."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message held back."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[EventMessage]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= PRELUDE.size:
            total, headers_length, prelude_crc = PRELUDE.unpack_from(self._buffer)
            if zlib.crc32(self._buffer[:8]) != prelude_crc:
                raise UpstreamProtocolError("The event stream's prelude checksum is wrong.")
            if not MIN_MESSAGE + headers_length <= total <= MAX_MESSAGE:
                raise UpstreamProtocolError("The event stream announced an impossible length.")
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            messages.append(_decode(frame, headers_length))
        return messages


def _decode(frame: bytes, headers_length: int) -> EventMessage:
    (message_crc,) = CRC.unpack_from(frame, len(frame) - CRC.size)
    if zlib.crc32(frame[: -CRC.size]) != message_crc:
        raise UpstreamProtocolError("The event stream's message checksum is wrong.")
    start = PRELUDE.size
    headers = decode_headers(frame[start : start + headers_length])
    return EventMessage(headers, frame[start + headers_length : -CRC.size])


def decode_headers(data: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    offset = 0
    try:
        while offset < len(data):
            size = data[offset]
            name = data[offset + 1 : offset + 1 + size].decode()
            offset += 1 + size
            headers[name], offset = _value(data, data[offset], offset + 1)
    except (IndexError, ValueError, struct.error) as exc:  # UnicodeDecodeError is a ValueError
        raise UpstreamProtocolError("The event stream sent malformed headers.") from exc
    return headers


def _value(data: bytes, kind: int, offset: int) -> tuple[HeaderValue, int]:
    if kind in (0, 1):
        return kind == 0, offset
    if kind in _INTEGERS:
        form = struct.Struct(_INTEGERS[kind])
        return form.unpack_from(data, offset)[0], offset + form.size
    if kind in (6, 7):
        (size,) = struct.unpack_from(">H", data, offset)
        raw = data[offset + 2 : offset + 2 + size]
        if len(raw) != size:
            raise IndexError("header value cut short")
        return (raw.decode() if kind == 7 else raw), offset + 2 + size
    if kind == 9:
        raw = data[offset : offset + 16]
        return uuid.UUID(bytes=raw), offset + 16
    raise UpstreamProtocolError(f"The event stream sent an unknown header type {kind}.")


def encode_message(headers: Mapping[str, str | bytes | bool], payload: bytes) -> bytes:
    """One message with string, byte-array and boolean headers (what the tests need)."""
    encoded = b"".join(_encode_header(name, value) for name, value in headers.items())
    total = MIN_MESSAGE + len(encoded) + len(payload)
    head = struct.pack(">II", total, len(encoded))
    prelude = head + CRC.pack(zlib.crc32(head))
    body = prelude + encoded + payload
    return body + CRC.pack(zlib.crc32(body))


def _encode_header(name: str, value: str | bytes | bool) -> bytes:
    raw_name = name.encode()
    head = bytes([len(raw_name)]) + raw_name
    if isinstance(value, bool):
        return head + bytes([0 if value else 1])
    raw = value.encode() if isinstance(value, str) else value
    return head + bytes([7 if isinstance(value, str) else 6]) + struct.pack(">H", len(raw)) + raw
