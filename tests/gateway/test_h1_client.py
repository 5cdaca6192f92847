"""The relay's HTTP/1.1 client against real loopback servers, well-behaved and not."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gzip
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
import pytest
import uvloop
from aiohttp import ClientTimeout, web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.errors import UpstreamTimeout, UpstreamUnavailable
from gateway.h1_client import H1Client

LIMITS = ClientTimeout(total=5, connect=2)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler, path: str = "/v1/x") -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_route("*", path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files in `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@asynccontextmanager
async def raw_server(handle: RawHandler) -> AsyncIterator[str]:
    """A TCP server that writes whatever bytes `handle` chooses: for upstreams that misbehave."""
    tasks: set[asyncio.Task[None]] = set()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handle(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away first
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(connected, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@pytest.fixture
async def client() -> AsyncIterator[H1Client]:
    relay = H1Client(asyncio.get_running_loop())
    yield relay
    await relay.close()


def url(server: TestServer, path: str = "/v1/x") -> str:
    return str(server.make_url(path))


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path_qs,
            "body": body.decode(),
            "auth": request.headers.get("Authorization"),
            "host": request.headers.get("Host"),
        },
        headers={"X-Upstream": "yes"},
    )


async def test_a_request_and_its_answer(client: H1Client) -> None:
    async with serving(echo) as server:
        response = await client.request(
            "POST", url(server, "/v1/x?q=%20"), {"Authorization": "Bearer k"}, b"hi", LIMITS
        )
        data = orjson.loads(await response.read())
        response.close()
        authority = server.make_url("").authority
    assert response.status == 200
    assert response.headers["x-upstream"] == "yes"
    assert response.headers["Content-Type"].startswith("application/json")
    assert data == {
        "method": "POST",
        "path": "/v1/x?q=%20",
        "body": "hi",
        "auth": "Bearer k",
        "host": authority,
    }


async def test_connections_are_kept_alive_and_reused(client: H1Client) -> None:
    peers: set[object] = set()

    async def handler(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        return web.Response(text="ok")

    async with serving(handler) as server:
        for _ in range(20):
            response = await client.request("POST", url(server), {}, b"", LIMITS)
            assert await response.read() == b"ok"
            response.close()
    assert len(peers) == 1


async def test_concurrent_requests_each_get_their_own_answer(client: H1Client) -> None:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)
        return web.Response(body=await request.read())

    async def one(i: int) -> bytes:
        response = await client.request("POST", url(server), {}, b"n%d" % i, LIMITS)
        try:
            return await response.read()
        finally:
            response.close()

    async with serving(handler) as server:
        answers = await asyncio.gather(*(one(i) for i in range(50)))
    assert answers == [b"n%d" % i for i in range(50)]


async def test_a_stream_arrives_piece_by_piece(client: H1Client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(5):
            await response.write(b"data: %d\n\n" % i)
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    async with serving(handler) as server:
        response = await client.request("POST", url(server), {}, b"{}", LIMITS)
        pieces = [piece async for piece in response.chunks()]
        response.close()
    assert len(pieces) >= 3  # not buffered to the end
    assert b"".join(pieces) == b"".join(b"data: %d\n\n" % i for i in range(5))


async def test_a_connection_given_back_after_close_is_closed_not_kept() -> None:
    relay = H1Client(asyncio.get_running_loop())
    finish = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await finish.wait()
        await response.write_eof()
        return response

    async with serving(handler) as server:
        response = await relay.request("POST", url(server), {}, b"{}", LIMITS)
        [pool] = relay._pools.values()  # the one host's
        await relay.close()  # while the exchange is still in flight
        finish.set()
        await response.read()
        response.close()
    assert pool.closed
    assert not pool.idle  # given back after the close: closed, not kept idle and leaked
    assert pool.open == 0


async def test_a_large_body_is_read_whole(client: H1Client) -> None:
    big = bytes(range(256)) * 8192  # 2 MB: past the stream's high-water mark

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=big)

    async with serving(handler) as server:
        response = await client.request("GET", url(server), {}, b"", LIMITS)
        assert await response.read() == big
        response.close()
        response = await client.request("GET", url(server), {}, b"", LIMITS)
        assert b"".join([piece async for piece in response.chunks()]) == big
        response.close()


async def test_gzip_answers_are_decoded(client: H1Client) -> None:
    async def handler(request: web.Request) -> web.Response:
        assert "gzip" in request.headers["Accept-Encoding"]
        body = gzip.compress(b'{"ok": true}' * 100)
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    async with serving(handler) as server:
        response = await client.request("POST", url(server), {}, b"", LIMITS)
        assert await response.read() == b'{"ok": true}' * 100
        response.close()


async def test_an_error_status_is_an_answer_not_an_exception(client: H1Client) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "slow down"}}, status=429)

    async with serving(handler) as server:
        response = await client.request("POST", url(server), {}, b"", LIMITS)
        assert response.status == 429
        assert b"slow down" in await response.read()
        response.close()


async def test_a_refused_connection_is_unavailable(client: H1Client) -> None:
    async with raw_server(lambda r, w: asyncio.sleep(0)) as base:
        pass  # closed: nothing listens on its port any more
    with pytest.raises(UpstreamUnavailable):
        await client.request("POST", base + "/x", {}, b"", LIMITS)


async def test_an_upstream_that_never_answers_times_out(client: H1Client) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async with raw_server(silent) as base:
        limits = ClientTimeout(total=0.2, connect=1)
        started = asyncio.get_running_loop().time()
        with pytest.raises(UpstreamTimeout):
            await client.request("POST", base + "/x", {}, b"", limits)
        assert asyncio.get_running_loop().time() - started < 1.0


async def test_a_stream_that_stalls_times_out_between_reads(client: H1Client) -> None:
    async def stalls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):  # alive for 0.45 s in all, never more than 0.15 s apart
            writer.write(b"7\r\ndata:\n\n\r\n")
            await asyncio.sleep(0.15)
        await asyncio.sleep(5)

    async with raw_server(stalls) as base:
        limits = ClientTimeout(connect=1, sock_read=0.3)
        response = await client.request("POST", base + "/x", {}, b"", limits)
        got: list[bytes] = []

        async def read_all() -> None:
            async for piece in response.chunks():
                got.append(piece)  # what came before the timeout

        with pytest.raises(UpstreamTimeout):
            await read_all()
        response.close()
    assert b"".join(got) == b"data:\n\n" * 3


async def test_a_short_deadline_fires_while_a_longer_one_waits(client: H1Client) -> None:
    """One timer watches every exchange: a later, shorter deadline re-arms it sooner, and an
    exchange that ends leaves the others watched."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    loop = asyncio.get_running_loop()
    async with raw_server(silent) as base:
        slow = asyncio.create_task(
            client.request("POST", base + "/x", {}, b"", ClientTimeout(total=3, connect=1))
        )
        await asyncio.sleep(0.05)  # its deadline is the one armed
        started = loop.time()
        with pytest.raises(UpstreamTimeout):
            await client.request("POST", base + "/x", {}, b"", ClientTimeout(total=0.2))
        assert 0.15 < loop.time() - started < 0.6
        quick = asyncio.create_task(
            client.request("POST", base + "/x", {}, b"", ClientTimeout(total=0.3))
        )
        with pytest.raises(UpstreamTimeout):
            await quick
        assert not slow.done()  # still within its own 3 s
        slow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await slow


async def test_a_connection_cut_mid_body_is_an_error(client: H1Client) -> None:
    async def cuts(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    async with raw_server(cuts) as base:
        response = await client.request("POST", base + "/x", {}, b"", LIMITS)
        with pytest.raises(UpstreamUnavailable):
            await response.read()
        response.close()


async def test_broken_framing_is_unavailable(client: H1Client) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()

    async with raw_server(garbage) as base:
        with pytest.raises(UpstreamUnavailable):
            await client.request("POST", base + "/x", {}, b"", LIMITS)


async def test_an_idle_connection_the_upstream_closed_is_replaced(client: H1Client) -> None:
    """The upstream closes each kept-alive connection right after answering."""
    connections = 0

    async def one_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    async with raw_server(one_answer) as base:
        for _ in range(3):
            response = await client.request("POST", base + "/x", {}, b"", LIMITS)
            assert await response.read() == b"ok"
            response.close()
            await asyncio.sleep(0.1)
    assert connections == 3


async def test_a_reused_connection_dropped_before_answering_is_retried_once(
    client: H1Client,
) -> None:
    """Closed by the upstream after reading the next request: the race the retry is for."""
    seen = 0

    async def drops_second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        await reader.readuntil(b"\r\n\r\n")
        seen += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        seen += 1
        writer.close()  # no answer on the kept-alive connection

    async with raw_server(drops_second) as base:
        for _ in range(2):
            response = await client.request("POST", base + "/x", {}, b"", LIMITS)
            assert await response.read() == b"ok"
            response.close()
    assert seen == 3  # first, the dropped second, its retry on a new connection


async def test_cancelling_the_caller_aborts_the_connection(client: H1Client) -> None:
    closed = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read()  # until the client goes away
        closed.set()

    async with raw_server(slow) as base:
        task = asyncio.create_task(client.request("POST", base + "/x", {}, b"", LIMITS))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(closed.wait(), 2)


async def test_a_half_read_stream_is_never_reused(client: H1Client) -> None:
    peers: list[object] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"first")
        await asyncio.sleep(0.05)
        await response.write(b"second")
        await response.write_eof()
        return response

    async with serving(handler) as server:
        response = await client.request("POST", url(server), {}, b"", LIMITS)
        async for _ in response.chunks():
            break
        response.close()
        response = await client.request("POST", url(server), {}, b"", LIMITS)
        assert await response.read() == b"firstsecond"
        response.close()
    assert len(set(peers)) == 2


async def test_the_host_limit_queues_requests(client: H1Client) -> None:
    relay = H1Client(asyncio.get_running_loop(), limit_per_host=2)
    active = peak = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        return web.Response(text="ok")

    async def one() -> bytes:
        response = await relay.request("POST", url(server), {}, b"", LIMITS)
        try:
            return await response.read()
        finally:
            response.close()

    async with serving(handler) as server:
        answers = await asyncio.gather(*(one() for _ in range(10)))
    await relay.close()
    assert answers == [b"ok"] * 10
    assert peak == 2


async def test_https_checks_the_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    app = web.Application()
    app.router.add_post("/v1/x", echo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=served)
    loop = asyncio.get_running_loop()
    trusting = H1Client(loop, ssl_context=ssl.create_default_context(cafile=str(cert)))
    default = H1Client(loop)  # the system's roots: a self-signed certificate is refused
    try:
        address = url(server)
        assert address.startswith("https://")
        response = await trusting.request("POST", address, {}, b"over tls", LIMITS)
        assert response.status == 200
        assert orjson.loads(await response.read())["body"] == "over tls"
        response.close()
        with pytest.raises(UpstreamUnavailable):
            await default.request("POST", address, {}, b"", LIMITS)
    finally:
        await trusting.close()
        await default.close()
        await server.close()


async def test_each_request_shape_carries_its_own_headers(client: H1Client) -> None:
    async with serving(echo) as server:
        for auth in ("Bearer a", "Bearer b", "Bearer a"):  # heads are remembered by shape
            response = await client.request(
                "POST", url(server), {"Authorization": auth}, auth.encode(), LIMITS
            )
            assert orjson.loads(await response.read())["auth"] == auth
            response.close()
        with pytest.raises(UpstreamUnavailable, match="cannot be sent"):
            await client.request("POST", url(server), {"X-Bad": "a\r\nHost: evil"}, b"", LIMITS)


async def test_an_unusable_url_is_unavailable(client: H1Client) -> None:
    with pytest.raises(UpstreamUnavailable):
        await client.request("POST", "ftp://x/y", {}, b"", LIMITS)


@pytest.mark.parametrize(
    "scenario",
    [
        test_a_request_and_its_answer,
        test_a_stream_arrives_piece_by_piece,
        test_a_large_body_is_read_whole,
        test_a_reused_connection_dropped_before_answering_is_retried_once,
        test_cancelling_the_caller_aborts_the_connection,
        test_a_stream_that_stalls_times_out_between_reads,
        test_a_short_deadline_fires_while_a_longer_one_waits,
    ],
)
def test_on_uvloop(scenario: Callable[[H1Client], Awaitable[None]]) -> None:
    """The gateway serves on uvloop, whose transports differ from asyncio's in small ways."""

    async def run() -> None:
        relay = H1Client(asyncio.get_running_loop())
        try:
            await scenario(relay)
        finally:
            await relay.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())


def test_https_on_uvloop(tmp_path: Path) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(test_https_checks_the_certificate(tmp_path))
