"""RESP2, the Redis wire format, without I/O: encode commands, parse replies incrementally.

    encode(["EVALSHA", sha, 1, "key", 5])  ->  b"*5\\r\\n$7\\r\\nEVALSHA\\r\\n..."
    parser = Parser(); parser.feed(chunk)  ->  the replies completed by `chunk`, in order

Replies decode like redis-py without ``decode_responses``: a bulk or simple string is
``bytes``, an integer ``int``, an array a ``list``, a null bulk string or array ``None``.
An error reply is an ``Error`` value, not raised: the caller decides what it means.

Replies are parsed by hiredis's reader (the C parser redis-py also uses when installed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias, cast

import hiredis

Arg: TypeAlias = "bytes | str | int | float"
Reply: TypeAlias = "bytes | int | Error | list[Reply] | None"


class ProtocolError(Exception):
    """The peer sent bytes that are not RESP2: the connection cannot be trusted any more."""


@dataclass(frozen=True, slots=True)
class Error:
    """An error reply, e.g. ``Error("NOSCRIPT No matching script. Please use EVAL.")``."""

    message: str

    @property
    def code(self) -> str:
        """The error's first word (``ERR``, ``NOSCRIPT``, ``WRONGPASS``...)."""
        return self.message.partition(" ")[0]


def encode_arg(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        data = arg
    elif isinstance(arg, str):
        data = arg.encode()
    elif isinstance(arg, bool):  # a bool is an int, but what it means to Redis is unclear
        raise TypeError("a Redis argument cannot be a bool; pass 0/1 or a string")
    elif isinstance(arg, int):
        data = b"%d" % arg
    elif isinstance(arg, float):
        data = repr(arg).encode()
    else:
        raise TypeError(f"a Redis argument is bytes, str, int or float, not {type(arg).__name__}")
    return b"$%d\r\n%b\r\n" % (len(data), data)


def encode_args(args: Iterable[Arg]) -> tuple[int, bytes]:
    """How many arguments, and their bulk strings without the array header."""
    parts = [encode_arg(arg) for arg in args]
    return len(parts), b"".join(parts)


class Encoder:
    """``encode_args`` that remembers recent string and integer arguments.

    A key's Redis keys, its limits and the scripts' constants repeat from request to
    request; only lease ids are new, and each is used twice (taken, then given back). The
    memo is cleared when it holds ``size`` arguments, so it stays bounded.
    """

    __slots__ = ("_memo", "_size")

    def __init__(self, size: int = 4096) -> None:
        self._memo: dict[str | int, bytes] = {}
        self._size = size

    def args(self, args: Iterable[Arg]) -> tuple[int, bytes]:
        """How many arguments, and their bulk strings without the array header."""
        memo = self._memo
        parts: list[bytes] = []
        for arg in args:
            kind = type(arg)
            if kind is str or kind is int:  # never bool (1 == True) nor float (1 == 1.0)
                part = memo.get(arg)  # type: ignore[arg-type]
                if part is None:
                    part = encode_arg(arg)
                    if len(memo) >= self._size:
                        memo.clear()
                    memo[arg] = part  # type: ignore[index]
            else:
                part = encode_arg(arg)
            parts.append(part)
        return len(parts), b"".join(parts)


@dataclass(frozen=True, slots=True)
class Template:
    """A command's arguments with one left open, the others encoded once
    (``Script.run_filled``)::

    Template.of([1, "key"], [5, 30]).command(b"$4\r\nINCR\r\n", 1, "lease-7")
        -> INCR 1 key lease-7 5 30
    """

    count: int  # of arguments, the open one included
    head: bytes
    tail: bytes

    @classmethod
    def of(cls, before: Iterable[Arg], after: Iterable[Arg]) -> Template:
        before_count, head = encode_args(before)
        after_count, tail = encode_args(after)
        return cls(before_count + 1 + after_count, head, tail)

    def command(self, leading: bytes, count: int, arg: str) -> bytes:
        """A whole command: `count` arguments encoded in `leading` (the command's name and
        what follows it), then the template's, `arg` the open one; formatted at once."""
        data = arg.encode()
        return b"*%d\r\n%b%b$%d\r\n%b\r\n%b" % (
            count + self.count,
            leading,
            self.head,
            len(data),
            data,
            self.tail,
        )


def encode(args: Iterable[Arg]) -> bytes:
    """One command (name and arguments) as a RESP2 array of bulk strings."""
    count, body = encode_args(args)
    return b"*%d\r\n%b" % (count, body)


class Parser:
    """Incremental reply parser: ``feed`` bytes as they arrive, get the complete replies.

    hiredis's C reader does the parsing (about ten times faster than Python); a reply split
    over many chunks is kept inside it until complete.
    """

    __slots__ = ("_reader",)

    def __init__(self) -> None:
        # hiredis takes any callable for error replies (its stub says an exception class):
        # they come back as `Error` values, to be raised or not by the caller.
        reply_error = cast(Callable[[str], Exception], Error)
        self._reader = hiredis.Reader(replyError=reply_error, protocolError=ProtocolError)

    def feed(self, data: bytes) -> list[Reply]:
        reader = self._reader
        reader.feed(data)
        replies = []
        reply = reader.gets()
        while reply is not False:  # RESP2 has no booleans: False means "no complete reply"
            replies.append(reply)
            reply = reader.gets()
        return replies
