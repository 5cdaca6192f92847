"""The lean client against real throwaway Redis servers, and a loopback stand-in for the rest."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest
import uvloop
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ratelimit import FastRedis, RateLimitStoreError, RedisLeases, RedisLimiter
from ratelimit.fastredis import Address, parse_url
from ratelimit.redis import Parts, Shaped
from tests.ratelimit.loopback import Loopback
from tests.servers.redis import RedisServer, free_port

pytestmark = pytest.mark.redis

ECHO = "return ARGV[1]"
SHAPES = "return {1, 'two', {3, 'x', {}}, false, KEYS[1]}"


@pytest.fixture
async def fast(redis_clean: str) -> AsyncIterator[FastRedis]:
    client = FastRedis.from_url(redis_clean, timeout_s=2.0)
    try:
        yield client
    finally:
        await client.aclose()


async def calls(client: FastRedis, command: str) -> int:
    """How often the server ran `command` since the last CONFIG RESETSTAT."""
    info = await client.execute_command("INFO", "commandstats")
    for line in info.decode().splitlines():
        if line.startswith(f"cmdstat_{command}:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


async def test_replies_decode_like_redis_py(fast: FastRedis, redis_clean: str) -> None:
    classic = Redis.from_url(redis_clean)
    try:
        for source in (SHAPES, "return 7", "return 'text'", "return {ok='fine'}", "return nil"):
            ours = await fast.register_script(source)(keys=["k"], args=[])
            theirs = await classic.register_script(source)(keys=["k"], args=[])
            assert ours == theirs, source
        with pytest.raises(ResponseError) as ours_error:
            await fast.register_script("return {err='boom'}")()
        with pytest.raises(ResponseError) as theirs_error:
            await classic.register_script("return {err='boom'}")()
        assert str(ours_error.value) == str(theirs_error.value)
    finally:
        await classic.aclose()
    assert await fast.register_script(SHAPES)(keys=["k"]) == [1, b"two", [3, b"x", []], None, b"k"]


async def test_evalsha_then_eval_once_after_a_script_flush(fast: FastRedis) -> None:
    script = fast.register_script(ECHO)
    await fast.execute_command("SCRIPT", "FLUSH")
    await fast.execute_command("CONFIG", "RESETSTAT")
    assert await script(args=["a"]) == b"a"  # unknown to the server: EVAL loads it
    assert await script(args=["b"]) == b"b"
    assert await script(args=["c"]) == b"c"
    # three EVALSHA (the first answered NOSCRIPT), one EVAL
    assert (await calls(fast, "eval"), await calls(fast, "evalsha")) == (1, 3)
    assert await fast.execute_command("SCRIPT", "EXISTS", script.sha) == [1]
    await fast.execute_command("SCRIPT", "FLUSH")
    assert await script(args=["d"]) == b"d"
    assert await calls(fast, "eval") == 2
    with pytest.raises(NoScriptError):
        await fast.execute_command("EVALSHA", "0" * 40, 0)


async def test_a_script_call_runs_unawaited_eval_after_noscript_included(fast: FastRedis) -> None:
    incr = fast.register_script("return redis.call('INCR', KEYS[1])")
    await fast.execute_command("SCRIPT", "FLUSH")
    started = [incr(keys=["unawaited"]) for _ in range(3)]  # all three answered NOSCRIPT
    del started  # nobody awaits them
    for _ in range(100):
        if await fast.execute_command("GET", "unawaited") == b"3":
            break
        await asyncio.sleep(0.01)
    assert await fast.execute_command("GET", "unawaited") == b"3"
    assert await fast.execute_command("SCRIPT", "EXISTS", incr.sha) == [1]


async def test_concurrent_calls_each_get_their_own_reply(fast: FastRedis) -> None:
    echo = fast.register_script(ECHO)
    incr = fast.register_script("return redis.call('INCR', KEYS[1])")
    results = await asyncio.gather(
        *(echo(args=[i]) if i % 2 else incr(keys=["n"]) for i in range(1000))
    )
    assert results[1::2] == [str(i).encode() for i in range(1, 1000, 2)]
    assert results[0::2] == list(range(1, 501))
    clients = await fast.execute_command("CLIENT", "LIST")
    assert clients.count(b"cmd=client|list") == 1


async def test_one_tick_of_commands_leaves_in_one_write() -> None:
    async with Loopback(lambda commands: b":1\r\n" * len(commands)) as server:
        client = FastRedis.from_url(server.url)
        script = client.register_script(ECHO)
        try:
            assert (
                await asyncio.gather(*(script(keys=["k"], args=[i]) for i in range(200)))
                == [1] * 200
            )
            assert await script(args=["x"]) == 1
        finally:
            await client.aclose()
    assert [len(chunk) for chunk in server.chunks] == [200, 1]
    first = server.chunks[0][0]
    assert isinstance(first, list)
    assert first[:3] == [b"EVALSHA", script.sha.encode(), b"1"]


async def test_a_killed_connection_fails_what_waits_then_reconnects(
    fast: FastRedis, redis_server: RedisServer
) -> None:
    assert await fast.execute_command("PING") == b"PONG"
    waiting = asyncio.create_task(fast.execute_command("BLPOP", "nothing", 5))
    await asyncio.sleep(0.05)
    redis_server.command("CLIENT", "KILL", "TYPE", "normal")
    with pytest.raises(RedisConnectionError):
        await waiting
    assert await fast.register_script(ECHO)(args=["back"]) == b"back"


async def test_a_restarted_server_fails_calls_until_it_is_back(
    isolated_redis_server: RedisServer,
) -> None:
    server = isolated_redis_server
    client = FastRedis.from_url(server.url, timeout_s=1.0)
    limiter, leases = RedisLimiter(client), RedisLeases(client)
    try:
        assert (await limiter.hit("k", 5, 1.0)).allowed
        waiting = asyncio.create_task(client.execute_command("BLPOP", "nothing", 5))
        await asyncio.sleep(0.05)
        await asyncio.to_thread(server.stop)
        with pytest.raises(RedisConnectionError):
            await waiting
        with pytest.raises(RedisConnectionError):  # nobody listens: refused, not a timeout
            await client.execute_command("PING")
        with pytest.raises(RateLimitStoreError, match="ConnectionError"):
            await limiter.hit("k", 5, 1.0)
        server.start()  # empty: every script loads again
        assert (await limiter.hit("k", 5, 1.0)).allowed
        assert await leases.acquire("k", "a", 1, 5.0)
        assert await leases.count("k") == 1
    finally:
        await client.aclose()


async def test_a_server_that_never_answers_times_out_and_reconnects() -> None:
    async with Loopback() as server:
        client = FastRedis.from_url(server.url, timeout_s=0.2)
        try:
            started = time.monotonic()
            results = await asyncio.gather(
                *(client.execute_command("PING") for _ in range(3)), return_exceptions=True
            )
            assert 0.15 < time.monotonic() - started < 1.0
            assert all(isinstance(result, RedisTimeoutError) for result in results)
            with pytest.raises(RateLimitStoreError, match="TimeoutError"):
                await RedisLimiter(client).hit("k", 5, 1.0)
            assert server.connections == 2
        finally:
            await client.aclose()


async def test_the_timeout_counts_from_each_write(redis_clean: str) -> None:
    client = FastRedis.from_url(redis_clean, timeout_s=0.25)
    try:
        started = time.monotonic()
        while time.monotonic() - started < 0.8:  # far longer than the timeout, no timeout
            assert await client.execute_command("PING") == b"PONG"
            await asyncio.sleep(0.01)
        assert await client.execute_command("BLPOP", "nothing", 0.05) is None
        with pytest.raises(RedisTimeoutError):
            await client.execute_command("BLPOP", "nothing", 2)
        assert await client.execute_command("PING") == b"PONG"  # a new connection
    finally:
        await client.aclose()


async def test_nothing_listening_is_a_connection_error() -> None:
    async with Loopback() as server:
        url = server.url
    client = FastRedis.from_url(url, timeout_s=1.0)
    try:
        with pytest.raises(RedisConnectionError):
            await client.execute_command("PING")
    finally:
        await client.aclose()


async def test_garbage_from_the_server_fails_the_connection() -> None:
    async with Loopback(lambda commands: b"?what\r\n") as server:
        client = FastRedis.from_url(server.url)
        try:
            with pytest.raises(RedisConnectionError, match="Protocol error"):
                await client.execute_command("PING")
        finally:
            await client.aclose()


async def test_a_cancelled_call_does_not_shift_the_replies(fast: FastRedis) -> None:
    slow = asyncio.create_task(fast.execute_command("BLPOP", "nothing", 0.1))
    await asyncio.sleep(0.02)
    slow.cancel()
    assert await fast.execute_command("ECHO", "mine") == b"mine"
    assert slow.cancelled()


async def test_password_username_and_database_from_the_url(
    isolated_redis_server: RedisServer,
) -> None:
    server = isolated_redis_server
    server.command("ACL", "SETUSER", "bob", "on", ">bobs-pw", "~*", "&*", "+@all")
    server.command("CONFIG", "SET", "requirepass", "s3cret")
    base = f"127.0.0.1:{server.port}"
    clients = [
        FastRedis.from_url(f"redis://:s3cret@{base}/3"),
        FastRedis.from_url(f"redis://bob:bobs-pw@{base}/0"),
        FastRedis.from_url(f"redis://:wrong@{base}/0"),
        FastRedis.from_url(f"redis://{base}/0"),
    ]
    by_password, by_user, wrong, anonymous = clients
    try:
        assert await by_password.execute_command("SET", "k", "in-3") == b"OK"
        assert await by_user.execute_command("GET", "k") is None  # database 0
        assert await by_user.execute_command("ACL", "WHOAMI") == b"bob"
        assert await by_user.execute_command("SELECT", 3) == b"OK"
        assert await by_user.execute_command("GET", "k") == b"in-3"
        with pytest.raises(AuthenticationError):
            await wrong.execute_command("PING")
        with pytest.raises(AuthenticationError):
            await anonymous.execute_command("PING")
    finally:
        for client in clients:
            await client.aclose()


async def test_aclose_fails_what_waits_and_refuses_new_calls(redis_clean: str) -> None:
    client = FastRedis.from_url(redis_clean)
    assert await client.execute_command("PING") == b"PONG"
    waiting = asyncio.create_task(client.execute_command("BLPOP", "nothing", 5))
    await asyncio.sleep(0.02)
    await client.aclose()
    with pytest.raises(RedisConnectionError):
        await waiting
    with pytest.raises(RedisConnectionError, match="closed"):
        await client.execute_command("PING")


async def test_callers_share_one_connect(redis_clean: str) -> None:
    client = FastRedis.from_url(redis_clean)
    try:
        replies = await asyncio.gather(*(client.execute_command("CLIENT", "ID") for _ in range(20)))
        assert len(set(replies)) == 1
    finally:
        await client.aclose()


async def test_calls_started_on_every_turn_while_connecting_share_one_connection() -> None:
    # A call started just before the connect finished used to start a second connect once
    # it ran: the first connection was then dropped unclosed, to be freed by the collector.
    async with Loopback(lambda commands: b":1\r\n" * len(commands)) as server:
        client = FastRedis.from_url(server.url)
        script = client.register_script(ECHO)
        try:
            started = []
            for _ in range(100):  # before, during and after the connect
                started.append(script(args=["x"]))
                await asyncio.sleep(0)
            assert await asyncio.gather(*started) == [1] * 100
        finally:
            await client.aclose()
    assert server.connections == 1


@contextmanager
def spawned_redis(
    tmp_path: Path, options: list[str], address: tuple[str, int] | str
) -> Iterator[None]:
    """A redis-server with `options`, until `address` (host and port, or a socket) accepts."""
    server = shutil.which("redis-server")
    assert server is not None  # the redis_server fixture installed it
    argv = [server, *options, "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(address)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"redis-server {options} did not start")
                    time.sleep(0.02)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def tls_redis(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[int, Path]]:
    """A redis-server speaking only TLS on a free port, with a self-signed certificate."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    request += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    request += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(request, check=True, capture_output=True)
    port = free_port()
    options = ["--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    options += ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    options += ["--tls-auth-clients", "no"]
    with spawned_redis(tmp_path, options, ("127.0.0.1", port)):
        yield port, cert


async def test_a_unix_socket_with_a_database_and_a_password(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    path = str(tmp_path / "redis.sock")
    options = ["--port", "0", "--unixsocket", path, "--requirepass", "pw"]
    with spawned_redis(tmp_path, options, path):
        client = FastRedis.from_url(f"unix://{path}?db=2&password=pw")
        try:
            assert await client.execute_command("SET", "k", "v") == b"OK"
            info = await client.execute_command("CLIENT", "INFO")
            assert b" db=2 " in info
        finally:
            await client.aclose()


async def test_rediss_speaks_tls_and_checks_the_certificate(tls_redis: tuple[int, Path]) -> None:
    port, cert = tls_redis
    base = f"rediss://127.0.0.1:{port}/0"
    clients = [
        FastRedis.from_url(f"{base}?ssl_ca_certs={cert}"),
        FastRedis.from_url(f"{base}?ssl_cert_reqs=none"),
        FastRedis.from_url(base),  # the self-signed certificate is not trusted
    ]
    trusting, unchecked, strict = clients
    try:
        assert await trusting.register_script(ECHO)(args=["tls"]) == b"tls"
        assert await unchecked.execute_command("PING") == b"PONG"
        with pytest.raises(RedisConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await strict.execute_command("PING")
    finally:
        for client in clients:
            await client.aclose()


def test_parse_url_reads_what_redis_py_reads() -> None:
    assert parse_url("redis://127.0.0.1:6380/2") == Address("127.0.0.1", 6380, db=2)
    assert parse_url("redis://h") == Address("h")
    assert parse_url("redis://:p%40ss@h/1") == Address("h", db=1, password="p@ss")
    assert parse_url("redis://u:pw@h:1?db=4") == Address("h", 1, db=4, username="u", password="pw")
    assert parse_url("unix:///run/redis.sock?db=5&password=x") == Address(
        path="/run/redis.sock", db=5, password="x"
    )
    secure = parse_url("rediss://h:7000/0?ssl_cert_reqs=none&socket_timeout=3")
    assert (secure.tls, secure.tls_verify, secure.port) == (True, False, 7000)
    context = secure.ssl_context()
    assert context is not None
    assert not context.check_hostname
    assert parse_url("redis://h").ssl_context() is None
    with pytest.raises(ValueError, match="redis"):
        parse_url("http://h")


def test_on_uvloop_as_the_gateway_runs_it(redis_clean: str) -> None:
    async def scenario() -> None:
        client = FastRedis.from_url(redis_clean, timeout_s=0.2)
        echo = client.register_script(ECHO)
        try:
            replies = await asyncio.gather(*(echo(args=[i]) for i in range(300)))
            assert replies == [str(i).encode() for i in range(300)]
            with pytest.raises(RedisTimeoutError):
                await client.execute_command("BLPOP", "nothing", 2)
            assert await echo(args=["again"]) == b"again"
        finally:
            await client.aclose()
        async with Loopback() as server:
            silent = FastRedis.from_url(server.url, timeout_s=0.2)
            try:
                with pytest.raises(RedisTimeoutError):
                    await silent.execute_command("PING")
            finally:
                await silent.aclose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


async def test_a_shaped_script_encodes_a_shape_once_and_stays_bounded(
    fast: FastRedis, redis_clean: str
) -> None:
    source = "return {KEYS[1], ARGV[1], ARGV[2], ARGV[3]}"
    builds: list[str] = []

    def parts(shape: str) -> Parts:
        builds.append(shape)
        return [f"key:{shape}"], [shape], ["after"]

    lean = Shaped(fast.register_script(source), size=2)
    for shape in ("a", "a", "b", "a", "c", "a"):
        reply = await lean.run(shape, partial(parts, shape), f"lease-{len(builds)}")
        assert reply[:2] == [f"key:{shape}".encode(), shape.encode()]
        assert reply[3] == b"after"
    assert builds == ["a", "b", "c", "a"]  # the memo was cleared when "c" came
    classic = Redis.from_url(redis_clean)
    try:
        shaped = Shaped(classic.register_script(source))
        assert shaped.start("a", partial(parts, "a"), "x") is None  # redis-py: await run
        assert await shaped.run("a", partial(parts, "a"), "x") == [b"key:a", b"a", b"x", b"after"]
        await shaped.run("a", partial(parts, "a"), "y")
    finally:
        await classic.aclose()
    assert builds == ["a", "b", "c", "a", "a", "a"]  # built for every redis-py call
