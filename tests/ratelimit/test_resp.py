"""RESP2 without I/O: commands encoded, replies parsed from bytes however they are split."""

from __future__ import annotations

import pytest

from ratelimit.resp import (
    Arg,
    Encoder,
    Error,
    Parser,
    ProtocolError,
    Reply,
    Template,
    encode,
    encode_arg,
    encode_args,
)

#: (wire bytes, replies) covering every reply type, nesting, nulls and awkward contents.
CASES: list[tuple[bytes, list[Reply]]] = [
    (b"+OK\r\n", [b"OK"]),
    (b"+\r\n", [b""]),
    (b"-ERR unknown command 'NOPE'\r\n", [Error("ERR unknown command 'NOPE'")]),
    (b":0\r\n:42\r\n:-17\r\n", [0, 42, -17]),
    (b":9223372036854775807\r\n", [2**63 - 1]),
    (b"$5\r\nhello\r\n", [b"hello"]),
    (b"$0\r\n\r\n", [b""]),
    (b"$-1\r\n", [None]),
    (b"$4\r\na\r\nb\r\n", [b"a\r\nb"]),  # CRLF inside a bulk string
    (b"$3\r\n\xff\x00\xfe\r\n", [b"\xff\x00\xfe"]),
    (b"*-1\r\n", [None]),
    (b"*0\r\n", [[]]),
    (b"*3\r\n:1\r\n$3\r\nabc\r\n+OK\r\n", [[1, b"abc", b"OK"]]),
    (
        b"*3\r\n*2\r\n:1\r\n*1\r\n$-1\r\n*0\r\n*2\r\n*-1\r\n-NOPE x\r\n",
        [[[1, [None]], [], [None, Error("NOPE x")]]],
    ),
    (b"*1\r\n*1\r\n*1\r\n:7\r\n:8\r\n", [[[[7]]], 8]),
    (
        b"*5\r\n:1\r\n:0\r\n:0\r\n:120\r\n:4\r\n+PONG\r\n$2\r\nhi\r\n",
        [[1, 0, 0, 120, 4], b"PONG", b"hi"],
    ),
]


@pytest.mark.parametrize(("wire", "replies"), CASES)
def test_a_whole_chunk_gives_every_reply(wire: bytes, replies: list[Reply]) -> None:
    assert Parser().feed(wire) == replies


@pytest.mark.parametrize(("wire", "replies"), CASES)
def test_a_split_at_every_byte_boundary_gives_the_same_replies(
    wire: bytes, replies: list[Reply]
) -> None:
    for cut in range(len(wire) + 1):
        parser = Parser()
        assert parser.feed(wire[:cut]) + parser.feed(wire[cut:]) == replies, cut


@pytest.mark.parametrize(("wire", "replies"), CASES)
def test_one_byte_at_a_time_gives_the_same_replies(wire: bytes, replies: list[Reply]) -> None:
    parser = Parser()
    got: list[Reply] = []
    for index in range(len(wire)):
        got += parser.feed(wire[index : index + 1])
    assert got == replies


def test_every_case_in_one_stream_split_everywhere() -> None:
    wire = b"".join(w for w, _ in CASES)
    replies = [r for _, rs in CASES for r in rs]
    for cut in range(0, len(wire) + 1, 3):
        for second in (cut, min(cut + 5, len(wire))):
            parser = Parser()
            parts = [wire[:cut], wire[cut:second], wire[second:]]
            assert [r for part in parts for r in parser.feed(part)] == replies


def test_nothing_is_returned_until_a_reply_is_complete() -> None:
    parser = Parser()
    assert parser.feed(b"*2\r\n:1\r\n$5\r\nhel") == []
    assert parser.feed(b"lo") == []
    assert parser.feed(b"\r") == []
    assert parser.feed(b"\n:3") == [[1, b"hello"]]
    assert parser.feed(b"\r\n") == [3]


def test_an_error_is_a_value_with_its_code() -> None:
    [error] = Parser().feed(b"-NOSCRIPT No matching script. Please use EVAL.\r\n")
    assert isinstance(error, Error)
    assert error.code == "NOSCRIPT"
    assert error.message == "NOSCRIPT No matching script. Please use EVAL."


@pytest.mark.parametrize("wire", [b"?what\r\n", b":12x\r\n", b"$abc\r\n", b"*x\r\n"])
def test_bytes_that_are_not_resp_raise(wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        Parser().feed(wire)


def test_encode_a_command() -> None:
    assert encode(["SET", b"k\r\n", 12, -3, 1.5, "é"]) == (
        b"*6\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$2\r\n12\r\n$2\r\n-3\r\n$3\r\n1.5\r\n$2\r\n\xc3\xa9\r\n"
    )
    assert encode([]) == b"*0\r\n"
    assert encode_args(["PING"]) == (1, b"$4\r\nPING\r\n")


def test_the_encoder_remembers_arguments_and_encodes_them_alike() -> None:
    encoder = Encoder(size=4)
    args: list[str | int | float | bytes] = ["k", 1, "1", b"1", 1.0, -3, "é"]
    for _ in range(3):  # the second and third time from the memo
        assert encoder.args(args) == encode_args(args)
    assert encoder.args([1, 1.0, "1"]) == (3, b"$1\r\n1\r\n$3\r\n1.0\r\n$1\r\n1\r\n")
    with pytest.raises(TypeError):
        encoder.args([True])  # not taken for the remembered 1


def test_the_encoder_memo_stays_bounded() -> None:
    encoder = Encoder(size=8)
    for n in range(100):
        assert encoder.args([f"lease-{n}", n]) == encode_args([f"lease-{n}", n])
    assert len(encoder._memo) <= 8


def test_a_template_filled_encodes_like_the_whole_command() -> None:
    template = Template.of([2, "bella:{k}:rl", "bella:{k}:lease", 50], [30_000_000, "é"])
    leading = encode_args(["EVALSHA", "0" * 40])[1]
    for lease in ("r-1", "", "é-ü"):
        args: list[Arg] = ["EVALSHA", "0" * 40, 2, "bella:{k}:rl", "bella:{k}:lease", 50]
        args += [lease, 30_000_000, "é"]
        assert template.command(leading, 2, lease) == encode(args)
    assert Template.of([], []).command(b"", 0, "x") == encode(["x"])


@pytest.mark.parametrize("arg", [True, None, [1], object()])
def test_encode_refuses_what_redis_would_not_understand(arg: object) -> None:
    with pytest.raises(TypeError):
        encode_arg(arg)  # type: ignore[arg-type]


def test_an_encoded_command_parses_back_as_an_array_of_bulk_strings() -> None:
    wire = encode(["EVALSHA", "a" * 40, 2, "k1", "k2", 5, b""])
    assert Parser().feed(wire) == [[b"EVALSHA", b"a" * 40, b"2", b"k1", b"k2", b"5", b""]]
