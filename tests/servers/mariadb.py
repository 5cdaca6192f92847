"""A throwaway MariaDB (or MySQL) server for the test session.

The server gets its own data directory, unix socket and a free port on 127.0.0.1, runs with
`--no-defaults` (the machine's my.cnf and any system server on port 3306 are never touched),
and is sized to start in about a second. Tests that want isolation ask for a fresh database:
`mysql_database` (one per test) or `MariaDB.create_database()`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql  # type: ignore[import-untyped]
import pytest

from tests.servers.install import apt_install
from tests.servers.lifetime import tied_to_this_process

__all__ = ["MariaDB", "mysql_database", "mysql_server", "mysql_url"]

_SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/libexec")
_SERVERS = ("mariadbd", "mysqld")
_INSTALLERS = ("mariadb-install-db", "mysql_install_db")
_READY_TIMEOUT_S = 60.0
_SCRATCH_PREFIX = "bella-mariadb-"
_LEFT_BEHIND_S = 600.0  # a scratch dir untouched this long, its server gone, is left behind
_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
# Small buffers, no binlog, no durability: a test server that starts fast and is thrown away.
_TUNING = (
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=8M",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--skip-log-bin",
    "--loose-performance-schema=0",
    "--loose-mysqlx=0",
    "--max-connections=300",
)


@dataclass
class MariaDB:
    """A running test server: connection details and a few sync admin helpers."""

    host: str
    port: int
    user: str = "root"
    _names: Iterator[int] = field(default_factory=itertools.count, repr=False)

    def url(self, database: str) -> str:
        return f"mysql://{self.user}@{self.host}:{self.port}/{database}"

    def connect(self, database: str | None = None) -> Any:
        """A plain pymysql connection (the caller closes it)."""
        return pymysql.connect(
            host=self.host, port=self.port, user=self.user, database=database, connect_timeout=2
        )

    def query(self, database: str | None, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement outside any store and return its rows."""
        conn = self.connect(database)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                rows = [tuple(r) for r in cursor.fetchall()]
            conn.commit()
        finally:
            conn.close()
        return rows

    def create_database(self, name: str | None = None) -> str:
        """Create a database (a unique name unless given) and return its `mysql://` URL."""
        name = name or f"bella_{os.getpid()}_{next(self._names)}"
        if not _NAME.match(name):
            raise ValueError(f"unsafe database name {name!r}")
        self.query(None, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        return self.url(name)


def _find(names: tuple[str, ...]) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SEARCH_DIRS])
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


def _install_server() -> None:
    apt_install(
        "mariadb-server",
        "MySQL tests need a MariaDB server binary (mariadbd or mysqld) on PATH or in /usr/sbin",
    )


def _binaries() -> tuple[str, str | None]:
    server = _find(_SERVERS)
    if server is None:
        _install_server()
        server = _find(_SERVERS)
    if server is None:
        pytest.fail("mariadb-server was installed but no mariadbd/mysqld was found", pytrace=False)
    return server, _find(_INSTALLERS)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _common_args(installer: str | None) -> list[str]:
    args = ["--user=root"] if os.geteuid() == 0 else []
    # MariaDB's root@127.0.0.1 account needs no DNS; Oracle MySQL's root is only @localhost,
    # which a TCP client from 127.0.0.1 matches only with name resolution on.
    if installer is not None:
        args.append("--skip-name-resolve")
    return [*args, *_TUNING]


def _init_datadir(server: str, installer: str | None, base: Path) -> None:
    data = base / "data"
    if installer is not None:  # MariaDB
        cmd = [
            installer,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *_common_args(installer),
        ]
    else:  # Oracle MySQL 8: root@localhost with an empty password
        cmd = [server, "--no-defaults", "--initialize-insecure", f"--datadir={data}"]
        cmd += _common_args(installer)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode:
        pytest.fail(f"initialising the MariaDB datadir failed:\n{done.stdout}\n{done.stderr}")


def _start(server: str, installer: str | None, base: Path, port: int) -> subprocess.Popen[bytes]:
    cmd = [
        server,
        "--no-defaults",
        f"--datadir={base / 'data'}",
        f"--socket={base / 'mysqld.sock'}",
        f"--pid-file={base / 'mysqld.pid'}",
        f"--log-error={base / 'server.log'}",
        f"--tmpdir={base}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        *_common_args(installer),
    ]
    with open(base / "stdout.log", "wb") as out:
        return subprocess.Popen(tied_to_this_process(cmd), stdout=out, stderr=subprocess.STDOUT)


def _server_log(base: Path) -> str:
    parts = []
    for name in ("server.log", "stdout.log"):
        with contextlib.suppress(FileNotFoundError):
            parts.append((base / name).read_text(errors="replace")[-4000:])
    return "\n".join(parts)


def _wait_ready(proc: subprocess.Popen[bytes], db: MariaDB, base: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"MariaDB exited with {proc.returncode}:\n{_server_log(base)}")
        try:
            db.connect().close()
        except pymysql.err.OperationalError:
            time.sleep(0.05)
        else:
            return
    pytest.fail(
        f"MariaDB did not accept connections in {_READY_TIMEOUT_S:.0f} s:\n{_server_log(base)}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _scratch_dir() -> Path:
    # tmpfs when there is one: no real fsyncs, so start-up and DDL are fast.
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    _sweep_left_behind(parent)
    return Path(tempfile.mkdtemp(prefix=_SCRATCH_PREFIX, dir=parent))


def _sweep_left_behind(parent: Path) -> None:
    """Remove the scratch dirs of runs killed before their teardown (in /dev/shm each holds
    about 100 MB of memory): those untouched for `_LEFT_BEHIND_S` whose server is gone. A
    dir another run is setting up, or whose server it stopped for a while, is younger."""
    now = time.time()
    for old in parent.glob(f"{_SCRATCH_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > _LEFT_BEHIND_S and not _server_alive(old):
                shutil.rmtree(old, ignore_errors=True)


def _server_alive(base: Path) -> bool:
    try:
        pid = int((base / "mysqld.pid").read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's server
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A server that exited but was not reaped (its parent gone, no init reaping it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[MariaDB]:
    """A MariaDB started for this test session on a free port; removed afterwards."""
    server, installer = _binaries()
    base = _scratch_dir()
    try:
        _init_datadir(server, installer, base)
        db = MariaDB(host="127.0.0.1", port=_free_port())
        proc = _start(server, installer, base, db.port)
        try:
            _wait_ready(proc, db, base)
            yield db
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def mysql_url(mysql_server: MariaDB) -> str:
    """`mysql://root@127.0.0.1:PORT/bella_test`, a database shared by the whole session."""
    return mysql_server.create_database("bella_test")


@pytest.fixture
def mysql_database(mysql_server: MariaDB) -> str:
    """The URL of a new, empty database for one test."""
    return mysql_server.create_database()


class StoppableMariaDB:
    """A MariaDB of one test's own that can be stopped and started again on the same port."""

    def __init__(self, server: str, installer: str | None, base: Path) -> None:
        self._server, self._installer, self._base = server, installer, base
        self.db = MariaDB(host="127.0.0.1", port=_free_port())
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = _start(self._server, self._installer, self._base, self.db.port)
        _wait_ready(self._proc, self.db, self._base)

    def stop(self) -> None:
        if self._proc is not None:
            _stop(self._proc)
            self._proc = None


@pytest.fixture
def stoppable_mysql() -> Iterator[StoppableMariaDB]:
    """A MariaDB for outage tests: `stop()` and `start()` it; removed afterwards."""
    server, installer = _binaries()
    base = _scratch_dir()
    try:
        _init_datadir(server, installer, base)
        instance = StoppableMariaDB(server, installer, base)
        instance.start()
        try:
            yield instance
        finally:
            instance.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
