"""A lean asyncio Redis client for the hot-path scripts: one pipelined connection, RESP2.

redis-py spends ~40 µs of CPU per command (pool checkout, encoder, retry, parser); the key
check, the slot lease and its releases run on every request, so they use this client on a
plain Redis (a Redis Cluster keeps redis-py's ``RedisCluster``, which routes by slot)::

    client = FastRedis.from_url("redis://:secret@127.0.0.1:6379/2", timeout_s=1.0)
    script = client.register_script("return redis.call('INCR', KEYS[1])")
    await script(keys=["counter"], args=[])   # EVALSHA; EVAL once after NOSCRIPT
    await client.aclose()

Invariants:

- One connection, multiplexed: Redis answers in the order it was sent, so every reply
  resolves the oldest waiting future (``_Connection._waiting``).
- A script call is a future, no coroutine: it runs whether or not anyone awaits it, so a
  release can be started from a ``finally`` and left to finish. Its EVALSHA carries its
  script, whose EVAL the connection sends instead when the server answers NOSCRIPT (the
  script did not run), resolving the same future with its reply.
- Auto-pipelining: commands issued in one event-loop tick are buffered and written in one
  ``transport.write``; the first of them schedules the flush with ``call_soon``.
- One timer per connection, armed at the deadline of the oldest unanswered flush. A reply
  that is overdue means the stream is stuck: every waiting command fails with
  ``TimeoutError`` and the connection is aborted, so no late reply can resolve a newer one.
- A lost connection fails its waiting commands with ``ConnectionError``; the next command
  connects again (lazily; concurrent callers share one connect, and a call started while it
  ran takes the connection it made: one connection at a time, the one ``aclose`` closes).
  No command is retried: a script may have run before the connection dropped.
- A command whose caller is cancelled still runs on the server; its reply is dropped.
- Errors are redis-py's exception classes, so callers handle both clients alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio.connection import parse_url as redis_url_options
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ratelimit import resp

#: A timer may fire this early (uvloop counts in milliseconds); a deadline that close is due.
_TIMER_SLACK_S = 0.001

_ERRORS: dict[str, type[RedisError]] = {
    "NOSCRIPT": NoScriptError,
    "WRONGPASS": AuthenticationError,
    "NOAUTH": AuthenticationError,
    "NOPERM": NoPermissionError,
    "LOADING": BusyLoadingError,
    "READONLY": ReadOnlyError,
    "OOM": OutOfMemoryError,
}


def response_error(error: resp.Error) -> RedisError:
    """The redis-py exception for an error reply (its code word dropped, as redis-py does)."""
    code = error.code
    kind = _ERRORS.get(code)
    if kind is None and code != "ERR":
        return ResponseError(error.message)
    return (kind or ResponseError)(error.message[len(code) + 1 :], status_code=code)


@dataclass(frozen=True, slots=True)
class Address:
    """Where and how to connect: TCP (optionally TLS) or a unix socket, then AUTH and SELECT."""

    host: str = "localhost"
    port: int = 6379
    path: str = ""  # a unix socket instead of host:port
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_verify: bool = True  # rediss://...?ssl_cert_reqs=none turns it off
    tls_ca_file: str | None = None

    @property
    def name(self) -> str:
        return self.path or f"{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.tls_ca_file)
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def parse_url(url: str) -> Address:
    """``redis://``, ``rediss://`` (TLS) or ``unix://`` URLs, read by redis-py's own parser;
    of its query options, ``db``, ``password``, ``ssl_cert_reqs=none`` and ``ssl_ca_certs``
    apply here, the pool and socket tuning does not."""
    options: dict[str, Any] = dict(redis_url_options(url))  # ValueError: another scheme
    common: dict[str, Any] = {
        "db": int(options.get("db") or 0),
        "username": options.get("username"),
        "password": options.get("password"),
    }
    if "path" in options:
        return Address(path=options["path"], **common)
    return Address(
        host=options.get("host") or "localhost",
        port=int(options.get("port") or 6379),
        tls=url.lower().startswith("rediss:"),
        tls_verify=str(options.get("ssl_cert_reqs", "required")).lower() != "none",
        tls_ca_file=options.get("ssl_ca_certs"),
        **common,
    )


class _Connection(asyncio.Protocol):
    """One socket: buffered commands out, replies in, each to the oldest waiting future."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str, timeout_s: float) -> None:
        self._loop = loop
        self._name = name
        self._timeout_s = timeout_s
        self._transport: asyncio.Transport | None = None
        self._parser = resp.Parser()
        self._out: list[bytes] = []
        # (its future, the command, its script: the EVAL to send on NOSCRIPT), oldest first
        self._waiting: deque[tuple[asyncio.Future[Any], bytes, Script | None]] = deque()
        # (commands flushed up to and including this flush, its reply deadline), oldest first
        self._flushes: deque[tuple[int, float]] = deque()
        self._flushed = 0
        self._answered = 0
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.lost: asyncio.Future[None] = loop.create_future()

    def send(self, command: bytes, script: Script | None = None) -> asyncio.Future[Any]:
        """Queue an encoded command; the future gets its reply (or its error). For the
        EVALSHA of `script`, its EVAL is sent instead when the reply is NOSCRIPT."""
        future = self._loop.create_future()
        if self.closed:
            future.set_exception(RedisConnectionError(f"Connection to {self._name} closed"))
            return future
        self._queue(command, future, script)
        return future

    def _queue(self, command: bytes, future: asyncio.Future[Any], script: Script | None) -> None:
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(command)
        self._waiting.append((future, command, script))

    def close(self) -> None:
        self._fail(RedisConnectionError, f"Connection to {self._name} closed by the client")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else ""
        self._fail(RedisConnectionError, f"Connection to {self._name} lost{reason}")
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            replies = self._parser.feed(data)
        except resp.ProtocolError as exc:
            self._fail(RedisConnectionError, f"Protocol error from {self._name}: {exc}")
            return
        waiting = self._waiting
        if len(replies) > len(waiting):
            self._fail(RedisConnectionError, f"{self._name} sent a reply nobody asked for")
            return
        self._answered += len(replies)
        for reply in replies:
            future, command, script = waiting.popleft()
            if future.done():  # its caller was cancelled
                continue
            if type(reply) is not resp.Error:
                future.set_result(reply)
            elif script is not None and reply.code == "NOSCRIPT":
                # a new or restarted server, SCRIPT FLUSH: the script did not run
                self._queue(script.eval_of(command), future, None)
            else:
                future.set_exception(response_error(reply))
        self._prune_flushes()

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self.closed or not out or self._transport is None:
            return
        self._transport.write(out[0] if len(out) == 1 else b"".join(out))
        self._flushed += len(out)
        deadline = self._loop.time() + self._timeout_s
        self._flushes.append((self._flushed, deadline))
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._check_deadline)

    def _prune_flushes(self) -> None:
        """Forget the flushes whose replies have all come."""
        flushes = self._flushes
        while flushes and flushes[0][0] <= self._answered:
            flushes.popleft()

    def _check_deadline(self) -> None:
        self._timer = None
        self._prune_flushes()
        if not self._flushes:
            return  # the next flush arms the timer again
        deadline = self._flushes[0][1]
        if deadline - self._loop.time() <= _TIMER_SLACK_S:
            self._fail(RedisTimeoutError, f"Timeout reading from {self._name}")
        else:
            self._timer = self._loop.call_at(deadline, self._check_deadline)

    def _fail(self, error: Callable[[str], RedisError], message: str) -> None:
        """Close for good: every waiting command fails with its own ``error(message)``."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._out.clear()
        self._flushes.clear()
        waiting, self._waiting = self._waiting, deque()
        for future, _, _ in waiting:
            if not future.done():
                future.set_exception(error(message))
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()


class Script:
    """A Lua script run by EVALSHA, with one EVAL when the server does not know it yet."""

    def __init__(self, client: FastRedis, source: str) -> None:
        self._client = client
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._evalsha = resp.encode_arg("EVALSHA") + resp.encode_arg(self.sha)
        self._eval = resp.encode_arg("EVAL") + resp.encode_arg(source)

    def __call__(
        self, keys: Sequence[resp.Arg] = (), args: Sequence[resp.Arg] = ()
    ) -> asyncio.Future[Any]:
        """Run it (started now, awaited or not); the future gets the script's reply."""
        count, body = self._client.encoder.args((len(keys), *keys, *args))
        return self._client.send(b"*%d\r\n%b%b" % (count + 2, self._evalsha, body), self)

    def run_filled(self, template: resp.Template, value: str) -> asyncio.Future[Any]:
        """Run it with `template`'s arguments, `value` the open one: one formatting."""
        return self._client.send(template.command(self._evalsha, 2, value), self)

    def eval_of(self, evalsha: bytes) -> bytes:
        """The EVAL of an EVALSHA command of this script (sent on NOSCRIPT)."""
        head_end = evalsha.index(b"\r\n") + 2  # `*<count>\r\n`, then EVALSHA and the sha
        args = evalsha[head_end + len(self._evalsha) :]
        return b"%b%b%b" % (evalsha[:head_end], self._eval, args)


class FastRedis:
    """The client: ``register_script`` and ``execute_command`` like redis-py, then ``aclose``."""

    def __init__(self, address: Address, *, timeout_s: float = 1.0) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._conn: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None
        self._closed = False
        self.encoder = resp.Encoder()

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 1.0) -> FastRedis:
        return cls(parse_url(url), timeout_s=timeout_s)

    def register_script(self, source: str) -> Script:
        return Script(self, source)

    async def execute_command(self, *args: resp.Arg) -> Any:
        """One command; the raw reply (``bytes``, ``int``, ``list``, ``None``)."""
        return await self.send(resp.encode(args))

    def send(self, command: bytes, script: Script | None = None) -> asyncio.Future[Any]:
        """One RESP-encoded command, started now; the future gets its reply. For the
        EVALSHA of `script`, its EVAL is sent instead when the reply is NOSCRIPT."""
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn.send(command, script)
        return asyncio.ensure_future(self._send_connected(command, script))

    async def aclose(self) -> None:
        """Fail what is waiting and close the connection; the client cannot be used again."""
        self._closed = True
        connecting, self._connecting = self._connecting, None
        if connecting is not None:
            connecting.cancel()
            await asyncio.wait([connecting])
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            await conn.lost

    async def _send_connected(self, command: bytes, script: Script | None) -> Any:
        conn = await self._connection()
        return await conn.send(command, script)

    async def _connection(self) -> _Connection:
        if self._closed:
            raise RedisConnectionError("The Redis client is closed")
        conn = self._conn
        if conn is not None and not conn.closed:  # made since this call was started
            return conn
        task = self._connecting
        if task is None:
            task = self._connecting = asyncio.create_task(self._connect())
            task.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(task)  # a cancelled caller leaves the connect to others
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                raise RedisConnectionError("The Redis client was closed while connecting") from None
            raise

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        address = self.address
        conn = _Connection(loop, address.name, self.timeout_s)
        try:
            async with asyncio.timeout(self.timeout_s):
                if address.path:
                    await loop.create_unix_connection(lambda: conn, address.path)
                else:
                    context = address.ssl_context()
                    await loop.create_connection(
                        lambda: conn, address.host, address.port, ssl=context
                    )
                await _handshake(conn, address)
        except TimeoutError:  # before OSError: TimeoutError is one
            conn.close()
            raise RedisTimeoutError(f"Timeout connecting to {address.name}") from None
        except OSError as exc:
            conn.close()
            raise RedisConnectionError(f"Error connecting to {address.name}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        finally:
            self._connecting = None
        self._conn = conn
        return conn


async def _handshake(conn: _Connection, address: Address) -> None:
    commands: list[Sequence[resp.Arg]] = []
    if address.password is not None:
        user = [address.username] if address.username else []
        commands.append(["AUTH", *user, address.password])
    if address.db:
        commands.append(["SELECT", address.db])
    if commands:
        await asyncio.gather(*(conn.send(resp.encode(command)) for command in commands))


def _retrieve(task: asyncio.Task[_Connection]) -> None:
    """Mark a failed connect as seen even when every caller waiting for it was cancelled."""
    if not task.cancelled():
        task.exception()
