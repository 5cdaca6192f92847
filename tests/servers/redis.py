"""Throwaway Redis servers for the test session: one plain server and a 3-master cluster.

Every server runs from the ``redis-server`` binary on a free 127.0.0.1 port, in its own temp
directory, with persistence off; the machine's own Redis (port 6379) is never used. Talking
to the servers here needs no client library: a few RESP commands over a plain socket.

Fixtures:

- ``redis_server`` (session): the shared ``RedisServer``; ``redis_url`` (session) its URL.
- ``redis_clean`` (function): the shared server's URL, (re)started if a test stopped it and
  emptied with FLUSHALL.
- ``isolated_redis_server`` (function): a private ``RedisServer`` a test may ``stop()`` and
  ``start()`` (same port) to play "Redis went away mid-run".
- ``redis_cluster_url`` (session): ``redis+cluster://127.0.0.1:P1`` of a 3-master cluster.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.servers.install import apt_install
from tests.servers.lifetime import tied_to_this_process

__all__ = [
    "RedisServer",
    "isolated_redis_server",
    "redis_clean",
    "redis_cluster_url",
    "redis_server",
    "redis_url",
]

_HOST = "127.0.0.1"
_READY_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 10.0
_CLUSTER_BUS_OFFSET = 10000  # a cluster node also listens on port + 10000
_PORT_ATTEMPTS = 100


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        _install_redis()
        found = shutil.which(name)
    if found is None:
        pytest.fail(f"redis-server was installed but {name} is not on PATH", pytrace=False)
    return found


def _install_redis() -> None:
    apt_install(
        "redis-server",
        "Redis tests need redis-server and redis-cli on PATH (the tests start their own servers)",
    )


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
        return True


def free_port(*, cluster_bus: bool = False, taken: Collection[int] = ()) -> int:
    """A free loopback port not in ``taken`` (for a cluster node, its bus port is free too)."""
    for _ in range(_PORT_ATTEMPTS):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((_HOST, 0))
            port: int = sock.getsockname()[1]
        if port in taken:
            continue
        if not cluster_bus:
            return port
        bus = port + _CLUSTER_BUS_OFFSET
        if bus <= 65535 and _bindable(bus):
            return port
    pytest.fail("no free port pair for a Redis cluster node", pytrace=False)


def _read_reply(reader: BinaryIO) -> bytes:
    line = reader.readline()
    if not line:
        raise ConnectionError("Redis closed the connection")
    if line[:1] != b"$":
        return line.rstrip(b"\r\n")
    size = int(line[1:])
    return b"" if size < 0 else reader.read(size + 2)[:-2]


def command(port: int, *args: str, timeout: float = 2.0) -> bytes:
    """Send one command to the Redis on ``port``; the reply (status, error or bulk string)."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection((_HOST, port), timeout=timeout) as sock:
        sock.sendall(payload.encode())
        with sock.makefile("rb") as reader:
            return _read_reply(reader)


class RedisServer:
    """One ``redis-server`` process on a fixed free port; ``stop()``/``start()`` keep the port."""

    def __init__(
        self, directory: Path, *, cluster: bool = False, taken: Collection[int] = ()
    ) -> None:
        self.directory = directory
        self.cluster = cluster
        self.port = free_port(cluster_bus=cluster, taken=taken)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{_HOST}:{self.port}/0"

    @property
    def address(self) -> str:
        return f"{_HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server (no-op when it runs) and wait until it answers PING."""
        if self.running:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self._log_path, "ab") as log:
            self._proc = subprocess.Popen(
                tied_to_this_process(self._argv()), stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_ready()

    def stop(self) -> None:
        """Stop the server (no-op when stopped); its port stays reserved for ``start()``."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=_STOP_TIMEOUT_S)

    def command(self, *args: str) -> bytes:
        return command(self.port, *args)

    def flushall(self) -> None:
        reply = self.command("FLUSHALL")
        if reply != b"+OK":
            raise RuntimeError(f"FLUSHALL on {self.address} answered {reply!r}")

    @property
    def _log_path(self) -> Path:
        return self.directory / "redis.log"

    def _argv(self) -> list[str]:
        argv = [_binary("redis-server"), "--port", str(self.port), "--bind", _HOST]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        if self.cluster:
            argv += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            argv += ["--cluster-node-timeout", "5000"]
        return argv

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                self.stop()
                pytest.fail(f"redis-server exited on {self.address}:\n{self._log_tail()}")
            if self._answers_ping():
                return
            time.sleep(0.02)
        self.stop()
        pytest.fail(f"redis-server on {self.address} did not answer PING:\n{self._log_tail()}")

    def _answers_ping(self) -> bool:
        try:
            return self.command("PING") == b"+PONG"
        except OSError:  # not listening yet
            return False

    def _log_tail(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return "(no log)"


def _create_cluster(nodes: list[RedisServer]) -> None:
    cmd = [_binary("redis-cli"), "--cluster", "create", *(node.address for node in nodes)]
    cmd += ["--cluster-replicas", "0", "--cluster-yes"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode:
        pytest.fail(f"redis-cli --cluster create failed:\n{done.stdout}\n{done.stderr}")
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if all(b"cluster_state:ok" in node.command("CLUSTER", "INFO") for node in nodes):
            return
        time.sleep(0.05)
    pytest.fail("the Redis cluster did not reach cluster_state:ok")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_clean(redis_server: RedisServer) -> str:
    """The shared server's URL: running (restarted if a test stopped it) and empty."""
    redis_server.start()
    redis_server.flushall()
    return redis_server.url


@pytest.fixture
def isolated_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("redis-cluster")
    nodes: list[RedisServer] = []
    for index in range(3):
        taken = [p for node in nodes for p in (node.port, node.port + _CLUSTER_BUS_OFFSET)]
        nodes.append(RedisServer(base / f"node{index}", cluster=True, taken=taken))
    try:
        for node in nodes:
            node.start()
        _create_cluster(nodes)
        yield f"redis+cluster://{nodes[0].address}"
    finally:
        for node in nodes:
            node.stop()
