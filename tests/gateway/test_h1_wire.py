"""The relay's HTTP/1.1 wire format: request bytes out, response bytes in, split anywhere."""

from __future__ import annotations

import itertools

import pytest

from gateway.h1_wire import ResponseParser, WireError, encode_head, parse_target, with_body


def parse_all(
    raw: bytes, *, splits: list[int] | None = None, no_body: bool = False
) -> tuple[ResponseParser, bytes]:
    parser = ResponseParser(no_body=no_body)
    cuts = [0, *(splits or []), len(raw)]
    body = b"".join(piece for a, b in itertools.pairwise(cuts) for piece in parser.feed(raw[a:b]))
    return parser, body


def every_split(raw: bytes, expected_body: bytes) -> None:
    for cut in range(1, len(raw)):
        parser, body = parse_all(raw, splits=[cut])
        assert parser.done, cut
        assert body == expected_body, cut


def test_target_keeps_the_path_and_query_as_encoded() -> None:
    target = parse_target("https://api.example.com/v1/models%2Fx/invoke?a=%20b")
    assert (target.scheme, target.host, target.port) == ("https", "api.example.com", 443)
    assert target.path == "/v1/models%2Fx/invoke?a=%20b"
    assert target.authority == "api.example.com"


def test_target_ports_ipv6_and_bare_hosts() -> None:
    assert parse_target("http://127.0.0.1:8001").path == "/"
    assert parse_target("http://127.0.0.1:8001").port == 8001
    assert parse_target("http://h?x=1").path == "/?x=1"
    six = parse_target("http://[::1]:9000/a")
    assert (six.host, six.port, six.authority) == ("::1", 9000, "[::1]:9000")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h/x",
        "h/x",
        "http:///x",
        "http://user:pw@h/x",
        "http://h:99999/x",
        "http://h:x/",
        "http://h/a b",
        "http://h/a\r\nX-Evil: 1",
    ],
)
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(WireError):
        parse_target(url)


def test_request_head_and_body_in_one_buffer() -> None:
    target = parse_target("http://up.local:8080/v1/chat/completions")
    raw = with_body(encode_head("POST", target, {"Authorization": "Bearer k"}), b'{"a":1}')
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat/completions HTTP/1.1"
    assert set(lines[1:]) == {
        "Authorization: Bearer k",
        "Host: up.local:8080",
        "Accept-Encoding: gzip, deflate",
        "Content-Length: 7",
    }
    assert body == b'{"a":1}'


def test_request_framing_headers_belong_to_the_connection() -> None:
    target = parse_target("http://up/x")
    headers = {"content-length": "999", "Connection": "close", "host": "signed.example"}
    raw = with_body(encode_head("POST", target, headers), b"ab")
    head = raw.partition(b"\r\n\r\n")[0].decode()
    assert "999" not in head
    assert "close" not in head
    assert "host: signed.example" in head
    assert "Host: up" not in head
    assert "Content-Length: 2" in head


@pytest.mark.parametrize(
    "headers", [{"X-A": "1\r\nX-Injected: 2"}, {"X-A\r\nB": "1"}, {"": "1"}, {"X A": "1"}]
)
def test_request_header_injection_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(WireError):
        encode_head("POST", parse_target("http://up/x"), headers)


def test_content_length_body_split_anywhere() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
    raw += b'{"ok":true}'
    parser, body = parse_all(raw)
    assert parser.head is not None
    assert parser.head.status == 200
    assert parser.head.reason == "OK"
    assert parser.head.headers["content-type"] == "application/json"
    assert body == b'{"ok":true}'
    assert parser.done
    assert parser.reusable
    every_split(raw, b'{"ok":true}')


def test_chunked_body_with_extensions_and_trailers_split_anywhere() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n"
        b"7\r\n, world\r\n"
        b"0\r\nX-Trailer: t\r\n\r\n"
    )
    parser, body = parse_all(raw)
    assert body == b"hello, world"
    assert parser.reusable
    every_split(raw, b"hello, world")


def test_chunks_of_any_bytes_and_sizes_split_anywhere() -> None:
    chunks = [b"a\r\nb", b"\r\n", b"x" * 300, b"crlf at the end\r\n", b"Z", b"0\r\n"]
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"".join(b"%X\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    parser, body = parse_all(raw)
    assert body == b"".join(chunks)
    assert parser.reusable
    every_split(raw, b"".join(chunks))


def test_sse_chunks_come_out_as_slices_of_one_read() -> None:
    events = [b"data: %d\n\n" % i for i in range(5)]
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
    parser = ResponseParser()
    assert parser.feed(raw) == events


def test_body_until_close() -> None:
    parser, body = parse_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc")
    assert body == b"abc"
    assert parser.head is not None
    assert not parser.reusable  # not while the body may go on
    parser.feed_eof()
    assert parser.done
    assert not parser.reusable


def test_no_body_statuses_and_head_requests() -> None:
    parser, body = parse_all(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert parser.done
    assert body == b""
    parser, body = parse_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", no_body=True)
    assert parser.done
    assert body == b""


def test_interim_responses_are_skipped() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    parser, body = parse_all(raw)
    assert parser.head is not None
    assert parser.head.status == 201
    assert body == b"ok"


def test_keep_alive_follows_version_and_connection() -> None:
    def keep_alive(head: bytes) -> bool:
        parser, _ = parse_all(head + b"Content-Length: 0\r\n\r\n")
        assert parser.head is not None
        return parser.head.keep_alive

    assert keep_alive(b"HTTP/1.1 200 OK\r\n")
    assert not keep_alive(b"HTTP/1.1 200 OK\r\nConnection: close\r\n")
    assert not keep_alive(b"HTTP/1.0 200 OK\r\n")
    assert keep_alive(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n")


def test_bytes_after_the_end_make_the_connection_unusable() -> None:
    parser, body = parse_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
    assert body == b"ok"
    assert parser.done
    assert not parser.reusable


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
    ],
)
def test_broken_framing_is_an_error(raw: bytes) -> None:
    with pytest.raises(WireError):
        ResponseParser().feed(raw)


def test_a_close_before_the_end_is_an_error() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(WireError):
        parser.feed_eof()


def test_oversized_heads_and_lines_are_errors() -> None:
    with pytest.raises(WireError):
        ResponseParser().feed(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000)
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    with pytest.raises(WireError):
        ResponseParser().feed(chunked + b"1" * 5000)
