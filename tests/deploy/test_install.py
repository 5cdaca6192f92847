"""deploy/install.sh into a temp prefix: idempotent, units verified, the installed gateway serves.

The install runs as root (as on a real host): it creates a throwaway system user, removed
again at the end, and everything else lives under one temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.deploy.tools import require
from tests.servers.install import apt_install
from tests.servers.redis import free_port

ROOT = Path(__file__).resolve().parents[2]
USER = "bella-test"
UNITS = ("bella-gateway.service", "bella-gateway-migrate.service")


@dataclass(frozen=True)
class Installed:
    base: Path

    @property
    def prefix(self) -> Path:
        return self.base / "opt"

    @property
    def etc(self) -> Path:
        return self.base / "etc"

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def units(self) -> Path:
        return self.base / "systemd"

    def install(self) -> subprocess.CompletedProcess[str]:
        argv = ["bash", str(ROOT / "deploy" / "install.sh"), "--prefix", str(self.prefix)]
        argv += ["--config-dir", str(self.etc), "--data-dir", str(self.data)]
        argv += ["--systemd-dir", str(self.units), "--user", USER, "--python", system_python()]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def command(self, *args: str) -> list[str]:
        """The installed CLI (its config and env file), run as the service user."""
        switch = ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups"]
        return [*switch, str(self.prefix / "bin" / "bella-gateway"), *args]


def system_python() -> str:
    """Debian's python3 with venv (what a host has; a python under /root is not reachable)."""
    python = "/usr/bin/python3"
    probe = [python, "-c", "import venv, ensurepip"]
    if not Path(python).exists() or subprocess.run(probe, capture_output=True).returncode:
        apt_install("python3-venv", "install.sh is tested with Debian's python3 and its venv")
    return python


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    if os.geteuid() != 0:
        pytest.fail("install.sh is tested as root (it creates a system user)", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="bella-install-"))
    base.chmod(0o755)  # the service user must reach the venv and the data dir
    existed = _user_exists()
    try:
        target = Installed(base)
        target.install()
        yield target
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if not existed and _user_exists():
            subprocess.run(["userdel", USER], check=False, capture_output=True)
            subprocess.run(["groupdel", USER], check=False, capture_output=True)


def _user_exists() -> bool:
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return False
    return True


def test_it_lays_out_user_config_and_data(installed: Installed) -> None:
    user = pwd.getpwnam(USER)
    assert user.pw_shell.endswith("nologin")
    data = installed.data.stat()
    assert (data.st_uid, oct(data.st_mode & 0o777)) == (user.pw_uid, "0o750")
    env = installed.etc / "bella-gateway.env"
    assert oct(env.stat().st_mode & 0o777) == "0o640"
    assert "BELLA_SECRETS_MASTER_KEY=" in env.read_text()
    assert len(env.read_text().split("BELLA_SECRETS_MASTER_KEY=")[1].split()[0]) == 44
    assert (installed.prefix / "venv" / "bin" / "bella-gateway").exists()


def test_installing_again_keeps_config_and_secrets(installed: Installed) -> None:
    files = [installed.etc / "bella.yaml", installed.etc / "bella-gateway.env"]
    before = [f.read_bytes() for f in files]
    installed.install()
    assert [f.read_bytes() for f in files] == before


def test_the_units_pass_systemd_analyze_verify(installed: Installed) -> None:
    analyze = require("systemd-analyze", "systemd", "the systemd units are checked")
    units = [str(installed.units / unit) for unit in UNITS]
    done = subprocess.run(
        [analyze, "verify", *units], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # warnings (unknown keys…) count as failures
    unit = (installed.units / UNITS[0]).read_text()
    for hardening in ("User=bella-test", "ProtectSystem=strict", "NoNewPrivileges=yes"):
        assert hardening in unit
    assert f"ReadWritePaths={installed.data}" in unit


async def test_the_installed_gateway_serves_a_request(installed: Installed) -> None:
    key = _init(installed)
    port = free_port()
    log = installed.base / "serve.log"
    proc = _serve(installed, port, log)
    try:
        reply = await _chat(f"http://127.0.0.1:{port}", key)
        assert reply["choices"]
        proc.send_signal(signal.SIGTERM)
        assert _wait(proc) == 0, log.read_bytes().decode()
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def _init(installed: Installed) -> str:
    done = subprocess.run(
        installed.command("init", "--demo"), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return next(line for line in done.stdout.splitlines() if line.startswith("sk-"))


def _serve(installed: Installed, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            installed.command("serve", "--port", str(port)), stdout=out, stderr=subprocess.STDOUT
        )


def _wait(proc: subprocess.Popen[bytes]) -> int:
    return proc.wait(timeout=30)


async def _chat(url: str, key: str) -> dict[str, object]:
    body = {"model": "mock-chat", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as http:
        for _ in range(400):
            try:
                async with http.post(
                    url + "/v1/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {key}"},
                ) as response:
                    assert response.status == 200, await response.text()
                    reply: dict[str, object] = await response.json()
                    return reply
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise AssertionError("the installed gateway never answered")
