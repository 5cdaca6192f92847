"""The upstream relay's HTTP/1.1 client: kept-alive connections, one request at a time on each.

Every API request costs one upstream exchange, so this is the hot path's client. It does
what a relay needs and nothing else: no cookies, redirects, proxies or tracing, one buffer
written per request, and body bytes handed on as the parser slices them (`gateway.h1_wire`).

Timeouts follow `aiohttp.ClientTimeout`, which the catalog builds per channel: `connect`
bounds opening a connection, `total` the whole exchange, `sock_read` each wait for bytes.
One `Watchdog` timer per client watches the deadlines of every exchange in flight, rather
than a timer armed and cancelled per exchange (the dearest loop call a request would make).

A connection goes back to its host's idle list the moment its response has been read whole
(and the upstream did not ask to close it). An exchange that ends any other way — an error,
a timeout, a cancelled handler, a caller that stops reading — aborts its connection, so a
half-read response can never leak into the next request. A kept-alive connection that the
upstream closed while idle is noticed and dropped; a request whose reused connection fails
before any byte of the answer arrives is sent once more on a fresh connection, as browsers
and Go's client do.

`limit_per_host` connections at most per upstream (0: no limit); further requests wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl
import zlib
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import cast

from aiohttp import ClientTimeout
from multidict import CIMultiDict, CIMultiDictProxy

from adapters.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from gateway.h1_wire import (
    ResponseHead,
    ResponseParser,
    Target,
    WireError,
    encode_head,
    parse_target,
    with_body,
)

HostKey = tuple[str, str, int]
_NO_HEADERS: Mapping[str, str] = CIMultiDictProxy(CIMultiDict())
HIGH_WATER = 256 * 1024  # buffered body bytes before the socket stops being read
KEEPALIVE_S = 15.0  # an idle connection older than this is closed rather than reused
_TARGET_CACHE = 256  # parsed URLs kept per client
_HEAD_CACHE = 256  # encoded request heads kept per client
_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}


class _Stale(Exception):
    """A reused connection failed before any answer came: the request may be sent again."""


class Connection(asyncio.Protocol):
    """One socket to an upstream; at most one exchange on it at a time."""

    def __init__(self, pool: HostPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.closed = False
        self.idle_since = 0.0
        self.used = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self.exchange is None:  # bytes nobody asked for: the connection is not reusable
            self.abort()
            return
        self.exchange.received(data)

    def eof_received(self) -> bool:
        self._lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(exc)

    def _lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        self.pool.forget(self)
        if self.exchange is not None:
            self.exchange.lost(exc)

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self.pool.forget(self)
        if self.transport is not None:
            self.transport.abort()


class Exchange:
    """One request's answer as it arrives: the head, then body bytes, then the end.

    Once its head is in, it is a `gateway.upstream.UpstreamResponse`: `status`, `headers`,
    `chunks()` or `read()`, and `close()`.
    """

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_deadline",
        "_decoder",
        "_head_waiter",
        "_loop",
        "_parser",
        "_read_at",
        "_read_limit",
        "_streaming",
        "_waiter",
        "_watchdog",
        "error",
        "finished",
        "headers",
        "received_any",
        "status",
    )

    def __init__(
        self,
        conn: Connection,
        loop: asyncio.AbstractEventLoop,
        limits: ClientTimeout,
        watchdog: Watchdog,
        *,
        no_body: bool,
    ) -> None:
        self._conn = conn
        self._loop = loop
        self._parser = ResponseParser(no_body=no_body)
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._decoder: zlib._Decompress | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._head_waiter: asyncio.Future[ResponseHead] = loop.create_future()
        self.status = 0
        self.headers: Mapping[str, str] = _NO_HEADERS
        self.error: UpstreamError | None = None
        self.finished = False
        self.received_any = False
        self._streaming = False
        now = loop.time()
        self._deadline = now + limits.total if limits.total else None
        self._read_limit = limits.sock_read or None
        self._read_at = now
        self._watchdog = watchdog
        due = self.due()
        if due is not None:
            watchdog.watch(self, due)

    # --- the connection's side ---------------------------------------------------------

    def received(self, data: bytes) -> None:
        self.received_any = True
        self._read_at = self._loop.time()
        parser = self._parser
        try:
            body = parser.feed(data)
            if parser.head is not None and not self.status:
                self._got_head(parser.head)
            if body:
                self._add(body)
        except (WireError, zlib.error) as exc:
            self._fail(UpstreamUnavailable(f"The upstream broke HTTP/1.1: {exc}"))
            return
        if parser.done:
            self._complete()

    def lost(self, exc: Exception | None) -> None:
        if self.finished:
            return
        try:
            self._parser.feed_eof()
        except WireError as error:
            if self._conn.used and not self.received_any:
                self._fail(_Stale(str(error)))
            else:
                self._fail(UpstreamUnavailable(f"The upstream could not be reached: {error}"))
            return
        self._complete(reusable=False)

    # --- the caller's side -------------------------------------------------------------

    @property
    def head_arrived(self) -> asyncio.Future[ResponseHead]:
        return self._head_waiter

    async def read(self) -> bytes:
        while not self.finished:
            await self._wait()
        if self.error is not None:
            raise self.error
        data = b"".join(self._chunks) if len(self._chunks) != 1 else self._chunks[0]
        self._chunks = []
        return data

    async def chunks(self) -> AsyncIterator[bytes]:
        self._streaming = True  # only a reader that takes bytes as they come sets the pace
        while True:
            if self._chunks:
                yield self._take()
            elif self.error is not None:
                raise self.error
            elif self.finished:
                return
            else:
                await self._wait()

    def close(self) -> None:
        """The caller is done: a finished exchange has freed its connection already."""
        if not self.finished:
            self._fail(UpstreamUnavailable("The response was not read to its end."))
        self._chunks = []

    # --- internals -----------------------------------------------------------------------

    def _take(self) -> bytes:
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        if self._buffered >= HIGH_WATER and not self.finished and self._conn.transport:
            self._conn.transport.resume_reading()
        self._buffered = 0
        return data

    async def _wait(self) -> None:
        waiter = self._waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _got_head(self, head: ResponseHead) -> None:
        self.status = head.status
        self.headers = head.headers
        encoding = head.headers.get("Content-Encoding")
        if encoding is not None and encoding.lower() != "identity":
            wbits = _ENCODINGS.get(encoding.lower().strip())
            if wbits is None:
                raise WireError(f"unsupported Content-Encoding {encoding[:20]!r}")
            self._decoder = zlib.decompressobj(wbits)
        if not self._head_waiter.done():
            self._head_waiter.set_result(head)

    def _add(self, body: list[bytes]) -> None:
        decoder = self._decoder
        if decoder is not None:
            body = [decoder.decompress(b"".join(body))]
        self._chunks += body
        self._buffered += sum(map(len, body))
        if self._streaming and self._buffered >= HIGH_WATER and self._conn.transport:
            self._conn.transport.pause_reading()
        self._wake()

    def _complete(self, *, reusable: bool = True) -> None:
        if self._decoder is not None:
            rest = self._decoder.flush()
            if rest:
                self._chunks.append(rest)
        self.finished = True
        self._watchdog.forget(self)
        conn = self._conn
        parser = self._parser
        head = parser.head
        if reusable and head is not None and head.keep_alive and parser.reusable:
            conn.pool.release(conn)
        else:
            conn.abort()
        self._wake()

    def _fail(self, error: Exception) -> None:
        if self.finished:
            return
        self.finished = True
        self._watchdog.forget(self)
        self.error = error if isinstance(error, UpstreamError) else UpstreamUnavailable(str(error))
        if not self._head_waiter.done():
            self._head_waiter.set_exception(error)
        self._conn.exchange = None
        self._conn.abort()
        self._wake()

    def due(self) -> float | None:
        """When the exchange times out, as things stand (None: it has no deadline)."""
        read_due = self._read_at + self._read_limit if self._read_limit else None
        if read_due is None or (self._deadline is not None and self._deadline < read_due):
            return self._deadline
        return read_due

    def timed_out(self) -> None:
        self._fail(UpstreamTimeout("The upstream did not answer in time."))


class Watchdog:
    """The deadlines of every exchange in flight, watched by one timer.

    Deadlines are seconds away and nearly every exchange ends long before its own, so one
    timer serves them all: it is armed for the earliest deadline it knows of, and when it
    fires it checks every exchange in flight, fails those past their deadline (a read
    deadline moves on as bytes arrive) and is armed again for the earliest left, no sooner
    than `TICK_S` later: an exchange times out at most `TICK_S` late.
    """

    TICK_S = 0.05

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._watched: set[Exchange] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._at = math.inf

    def watch(self, exchange: Exchange, due: float) -> None:
        self._watched.add(exchange)
        if due < self._at:
            self._arm(due)

    def forget(self, exchange: Exchange) -> None:
        self._watched.discard(exchange)  # the timer stays: when it fires, it finds less

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(at, self._check)
        self._at = at

    def _check(self) -> None:
        self._timer, self._at = None, math.inf
        now = self._loop.time()
        earliest = math.inf
        for exchange in list(self._watched):  # each has a deadline: unwatched otherwise
            due = cast(float, exchange.due())
            if due <= now:
                exchange.timed_out()  # and forgotten
            elif due < earliest:
                earliest = due
        if earliest < math.inf:
            self._arm(max(earliest, now + self.TICK_S))


class HostPool:
    """The connections to one scheme://host:port: idle ones kept, new ones capped."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: HostKey, limit: int) -> None:
        self._loop = loop
        self.key = key
        self.idle: deque[Connection] = deque()
        self.open = 0
        self.limit = limit
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.closed = False  # the client closed it: a connection given back is closed too

    def release(self, conn: Connection) -> None:
        if self.closed:  # an exchange that ended after the client closed: nobody reuses it
            conn.abort()
            return
        conn.exchange = None
        conn.used = True
        conn.idle_since = self._loop.time()
        self.idle.append(conn)
        self._wake_one()

    def forget(self, conn: Connection) -> None:
        self.open -= 1
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)
        self._wake_one()

    def take_idle(self, now: float) -> Connection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < KEEPALIVE_S:
                return conn
            conn.abort()
        return None

    @property
    def full(self) -> bool:
        return bool(self.limit) and self.open >= self.limit

    async def wait(self) -> None:
        """Until a connection comes back idle or closes."""
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done():
                waiter.cancel()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class H1Client:
    """Sends `(method, url, headers, body)`; the answer is the `Exchange`, once its head came."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        limit_per_host: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.loop = loop
        self._limit = limit_per_host
        self._ssl = ssl_context
        self._pools: dict[HostKey, HostPool] = {}
        self._targets: dict[str, Target] = {}
        self._heads: dict[tuple[object, ...], bytes] = {}  # request heads by shape
        self._watchdog = Watchdog(loop)

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        limits: ClientTimeout,
    ) -> Exchange:
        target = self._target(url)
        shape = (method, url, *headers.items())
        head = self._heads.get(shape)
        if head is None:
            head = self._head(shape, method, target, headers)
        payload = with_body(head, body)
        pool = self._pool(target)
        conn = pool.take_idle(self.loop.time())
        for fresh in (False, True):  # a stale reused connection: once more, on a new one
            if conn is None:
                conn = await self._checkout(pool, target, limits, fresh=fresh)
            exchange = Exchange(conn, self.loop, limits, self._watchdog, no_body=method == "HEAD")
            conn.exchange = exchange
            assert conn.transport is not None
            conn.transport.write(payload)
            try:
                await exchange.head_arrived
            except _Stale:
                conn = None
                continue
            except BaseException:
                exchange.close()
                raise
            return exchange
        raise UpstreamUnavailable("The upstream closed the connection before answering.")

    async def close(self) -> None:
        for pool in list(self._pools.values()):
            pool.closed = True
            while pool.idle:
                pool.idle.pop().abort()
        self._pools.clear()

    async def _checkout(
        self, pool: HostPool, target: Target, limits: ClientTimeout, *, fresh: bool
    ) -> Connection:
        """An idle connection (unless `fresh`), else a new one once the host's cap allows."""
        while True:
            conn = None if fresh else pool.take_idle(self.loop.time())
            if conn is not None:
                return conn
            if fresh and pool.idle and pool.full:
                pool.idle.pop().abort()  # make room: idle ones may be as stale as the last
            if not pool.full:
                return await self._connect(pool, target, limits)
            await pool.wait()

    async def _connect(self, pool: HostPool, target: Target, limits: ClientTimeout) -> Connection:
        pool.open += 1
        conn = Connection(pool)
        try:
            async with asyncio.timeout(limits.connect or limits.total):
                await self.loop.create_connection(
                    lambda: conn,
                    target.host,
                    target.port,
                    ssl=self._tls() if target.tls else None,
                    server_hostname=target.host if target.tls else None,
                )
        except TimeoutError:
            conn.abort()
            raise UpstreamTimeout("The upstream did not accept a connection in time.") from None
        except (OSError, ssl.SSLError) as exc:
            conn.abort()
            name = type(exc).__name__
            raise UpstreamUnavailable(f"The upstream could not be reached: {name}.") from exc
        except BaseException:
            conn.abort()
            raise
        return conn

    def _head(
        self, shape: tuple[object, ...], method: str, target: Target, headers: Mapping[str, str]
    ) -> bytes:
        """The encoded head of requests of one shape (method, URL, headers), remembered."""
        try:
            head = encode_head(method, target, headers)
        except WireError as exc:
            raise UpstreamUnavailable(f"The request cannot be sent: {exc}") from None
        if len(self._heads) >= _HEAD_CACHE:
            self._heads.clear()
        self._heads[shape] = head
        return head

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _pool(self, target: Target) -> HostPool:
        key = (target.scheme, target.host, target.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = HostPool(self.loop, key, self._limit)
        return pool

    def _target(self, url: str) -> Target:
        target = self._targets.get(url)
        if target is None:
            try:
                target = parse_target(url)
            except WireError as exc:
                raise UpstreamUnavailable(f"The channel URL is unusable: {exc}") from None
            if len(self._targets) >= _TARGET_CACHE:
                self._targets.clear()
            self._targets[url] = target
        return target
