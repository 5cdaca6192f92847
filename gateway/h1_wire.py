"""HTTP/1.1 for the upstream relay, without I/O: request bytes out, response events in.

The relay talks to a handful of known upstreams over kept-alive connections, so the client
side of HTTP/1.1 it needs is small: one request head written with its body in one piece, and
a response parser that reads a head, then a body framed by Content-Length, chunked transfer
coding, or the end of the connection. `ResponseParser.feed` takes whatever bytes arrived and
returns the body bytes they complete, as slices of the input where possible: an SSE stream
relayed through it is never copied byte by byte.

Interim (1xx) responses are skipped. Trailers are read and dropped. Anything that breaks the
framing raises `WireError`, after which the connection cannot be reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from multidict import CIMultiDict, CIMultiDictProxy

MAX_HEAD_BYTES = 64 * 1024
MAX_LINE_BYTES = 4 * 1024  # a chunk-size or trailer line
_CRLF = b"\r\n"
_HEAD_END = b"\r\n\r\n"
_VERSIONS = ("HTTP/1.1", "HTTP/1.0")
_SEMICOLON = ord(";")  # an int: `b";" in line` costs a raised and cleared TypeError
# What the relay can decode (see `gateway.h1_client`).
ACCEPT_ENCODING = "Accept-Encoding: gzip, deflate\r\n"
_NO_BODY_STATUSES = frozenset({204, 304})
# Header names the connection owns: a caller's own values for these would break the framing.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})

# Parser states.
_HEAD = 0
_LENGTH = 1
_CHUNK_SIZE = 2
_CHUNK_DATA = 3
_CHUNK_END = 4
_TRAILERS = 5
_UNTIL_CLOSE = 6
_DONE = 7


class WireError(Exception):
    """The peer broke HTTP/1.1 framing (or a request could not be written safely)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL's request goes: the connection key and what the request head names."""

    scheme: str
    host: str
    port: int
    authority: str  # the Host header
    path: str  # origin-form request target: path and query, as given (never re-encoded)

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


def parse_target(url: str) -> Target:
    """Split an absolute http(s) URL; the path and query are kept exactly as encoded."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise WireError(f"not an http(s) URL: {url[:80]!r}")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if "@" in authority or not authority or _unsafe(authority) or _unsafe(path):
        raise WireError(f"unusable URL: {url[:80]!r}")
    host, port = _host_port(authority, 443 if scheme == "https" else 80)
    if path.startswith("?"):
        path = "/" + path
    return Target(scheme, host, port, authority, path or "/")


def _host_port(authority: str, default: int) -> tuple[str, int]:
    if authority.startswith("["):  # an IPv6 literal
        host, _, rest = authority[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = authority.partition(":")
    if not port_text:
        return host, default
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise WireError(f"bad port in {authority!r}")
    return host, int(port_text)


def _unsafe(text: str) -> bool:
    return "\r" in text or "\n" in text or " " in text or "\t" in text


def with_body(head: bytes, body: bytes) -> bytes:
    """A head from `encode_head`, completed for `body`, and the body: one buffer."""
    return b"".join((head, b"%d\r\n\r\n" % len(body), body))


def encode_head(method: str, target: Target, headers: Mapping[str, str]) -> bytes:
    """The request head but for the value of its last line, `Content-Length: ` (see
    `with_body`); the caller's `Host` wins over the URL's. A request's head depends on its
    body's length alone, so a relay that sends many requests alike encodes and checks their
    headers once."""
    lines = [f"{method} {target.path} HTTP/1.1\r\n"]
    host = None
    accept_encoding = False
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _FRAMING_HEADERS:
            continue
        if lowered == "host":
            host = value
        elif lowered == "accept-encoding":
            accept_encoding = True
        if _unsafe(name) or "\r" in value or "\n" in value or not name:
            raise WireError(f"header {name[:40]!r} cannot be sent")
        lines.append(f"{name}: {value}\r\n")
    if host is None:
        lines.append(f"Host: {target.authority}\r\n")
    if not accept_encoding:
        lines.append(ACCEPT_ENCODING)
    lines.append("Content-Length: ")
    return "".join(lines).encode("latin-1")


# Not frozen: built per request (docs/architecture.md, 'Per-request records').
@dataclass(slots=True)
class ResponseHead:
    status: int
    reason: str
    headers: CIMultiDictProxy[str]
    keep_alive: bool


class ResponseParser:
    """Reads one response. `head` is set once the head is complete; `done` once the body is."""

    __slots__ = ("_no_body", "_pending", "_remaining", "_state", "_until_close", "head", "trailing")

    def __init__(self, *, no_body: bool = False) -> None:
        self._pending = b""
        self._remaining = 0
        self._state = _HEAD
        self._no_body = no_body  # the answer to a HEAD request
        self._until_close = False
        self.head: ResponseHead | None = None
        self.trailing = False  # bytes came after the response's end

    @property
    def done(self) -> bool:
        return self._state == _DONE

    @property
    def reusable(self) -> bool:
        """The connection may carry another exchange (checked once `done`)."""
        return self._state == _DONE and not self.trailing and not self._until_close

    def feed(self, data: bytes) -> list[bytes]:
        """Body bytes completed by `data`, in order; the head, when complete, lands in `head`."""
        if self._pending:
            data, self._pending = self._pending + data, b""
        out: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end and self._state != _DONE:
            pos = self._step(data, pos, end, out)
            if pos < 0:  # an incomplete line: keep it for the next feed
                self._pending = data[-pos - 1 :]
                break
        else:
            self.trailing = pos < end
        return out

    def feed_eof(self) -> None:
        """The peer closed: fine when the body runs to the close, an error anywhere else."""
        if self._state == _UNTIL_CLOSE:
            self._state = _DONE
        elif self._state != _DONE:
            raise WireError("the upstream closed the connection before the response ended")

    def _step(self, data: bytes, pos: int, end: int, out: list[bytes]) -> int:
        """Consume from `pos`; the next position, or -(start + 1) to wait for more bytes."""
        state = self._state
        if state == _LENGTH:
            take = min(self._remaining, end - pos)
            out.append(data[pos : pos + take] if take < end or pos else data)
            self._remaining -= take
            if not self._remaining:
                self._state = _DONE
            return pos + take
        if state == _UNTIL_CLOSE:
            out.append(data[pos:] if pos else data)
            return end
        if state == _HEAD:
            return self._read_head(data, pos)
        return self._chunked(data, pos, end, out)

    def _chunked(self, data: bytes, pos: int, end: int, out: list[bytes]) -> int:
        """Chunks, one after another, in one loop: an SSE stream is mostly framing.

        The common case — a size line, the chunk and its CRLF all in hand — takes one pass,
        and a run of such chunks one split (`_whole_chunks`).
        """
        while pos < end:
            state = self._state
            if state == _CHUNK_SIZE:
                pos = _whole_chunks(data, pos, end, out)
                if pos >= end:
                    return pos
                line_end = data.find(_CRLF, pos)
                if line_end < 0:
                    if end - pos > MAX_LINE_BYTES:
                        raise WireError("a chunk-size or trailer line is too long")
                    return -pos - 1
                size = _chunk_size(data[pos:line_end])
                pos = line_end + 2
                if not size:
                    self._state = _TRAILERS
                    continue
                self._remaining = size
                state = self._state = _CHUNK_DATA
            if state == _CHUNK_DATA:
                stop = pos + self._remaining
                if stop + 2 <= end:  # the whole chunk and its CRLF are here
                    if data[stop] != 13 or data[stop + 1] != 10:
                        raise WireError("a chunk is longer than its size")
                    out.append(data[pos:stop])
                    pos = stop + 2
                    self._state = _CHUNK_SIZE
                    continue
                take = min(self._remaining, end - pos)
                out.append(data[pos : pos + take])
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = _CHUNK_END
            elif state == _CHUNK_END:
                if end - pos < 2:
                    return -pos - 1
                if data[pos] != 13 or data[pos + 1] != 10:  # CR LF
                    raise WireError("a chunk is longer than its size")
                pos += 2
                self._state = _CHUNK_SIZE
            else:  # _TRAILERS, dropped; the empty line ends them
                line_end = data.find(_CRLF, pos)
                if line_end < 0:
                    if end - pos > MAX_LINE_BYTES:
                        raise WireError("a trailer line is too long")
                    return -pos - 1
                if line_end == pos:
                    self._state = _DONE
                    return line_end + 2
                pos = line_end + 2
        return pos

    def _read_head(self, data: bytes, pos: int) -> int:
        head_end = data.find(_HEAD_END, pos)
        if head_end < 0:
            if len(data) - pos > MAX_HEAD_BYTES:
                raise WireError("the response head is too large")
            return -pos - 1
        head = parse_head(data[pos:head_end])
        if 100 <= head.status < 200:
            return head_end + 4  # interim: the real response follows
        self.head = head
        self._state = self._framing(head)
        return head_end + 4

    def _framing(self, head: ResponseHead) -> int:
        if self._no_body or head.status in _NO_BODY_STATUSES:
            return _DONE
        coding = head.headers.get("Transfer-Encoding")
        if coding is not None:
            if coding.lower().rpartition(",")[2].strip() == "chunked":
                return _CHUNK_SIZE
            self._until_close = True
            return _UNTIL_CLOSE
        length = head.headers.get("Content-Length")
        if length is None:
            self._until_close = True
            return _UNTIL_CLOSE
        if not length.isdigit():
            raise WireError(f"bad Content-Length {length[:20]!r}")
        self._remaining = int(length)
        return _LENGTH if self._remaining else _DONE


def _whole_chunks(data: bytes, pos: int, end: int, out: list[bytes]) -> int:
    """The complete chunks of `data[pos:end]` that start at `pos`, found with one split
    (a chunk is a size line, its bytes and CRLF); where they end. The first that is not
    such a chunk (the last chunk, one cut short, one holding CRLF) is left to the caller."""
    parts = (data if not pos and end == len(data) else data[pos:end]).split(_CRLF)
    last = len(parts) - 2  # the index of the last size line whose chunk may be in hand
    index = 0
    while index < last:
        size_line, chunk = parts[index], parts[index + 1]
        if not chunk or not size_line.isalnum():
            break
        try:
            size = int(size_line, 16)
        except ValueError:  # not a hexadecimal size: the caller says so
            break
        if len(chunk) != size:
            break
        out.append(chunk)
        pos += len(size_line) + size + 4
        index += 2
    return pos


def _chunk_size(line: bytes) -> int:
    """A chunk-size line's size; its extensions (after `;`) are ignored."""
    text = line.split(b";", 1)[0].strip() if _SEMICOLON in line else line
    if not text.isalnum():  # int() would also take signs, underscores and spaces
        raise WireError(f"bad chunk size {line[:20]!r}")
    try:
        return int(text, 16)
    except ValueError:
        raise WireError(f"bad chunk size {line[:20]!r}") from None


def parse_head(raw: bytes) -> ResponseHead:
    """A response head (status line and header lines, without the blank line)."""
    lines = raw.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if version not in _VERSIONS or len(code) != 3 or not code.isdigit():
        raise WireError(f"bad status line {lines[0][:60]!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    add = headers.add
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise WireError(f"bad header line {line[:60]!r}")
        add(name, value.strip())
    connection = headers.get("Connection", "").lower()
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    return ResponseHead(int(code), reason, CIMultiDictProxy(headers), keep_alive)
