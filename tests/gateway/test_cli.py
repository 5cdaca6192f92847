"""The command line as an operator uses it: `python -m gateway …` in a fresh data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.apikeys import hash_secret
from gateway.database import open_configured_store
from gateway.settings import load_settings

CATALOG = """
catalog:
  models:
    - name: gpt-cfg
  channels:
    - model: gpt-cfg
      protocol: openai
      url: http://127.0.0.1:9/v1
      credentials: {api_key: sk-channel-secret-xyz}
      weight: 3
"""


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BELLA_SERVER_DATA_DIR": str(tmp_path / "data")}
    env.pop("BELLA_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def secret_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("sk-")]


async def test_init_prints_the_system_key_once_and_is_idempotent(tmp_path: Path) -> None:
    first = run(tmp_path, "init", "--demo")
    assert first.returncode == 0, first.stderr
    [secret] = secret_lines(first.stdout)
    second = run(tmp_path, "init", "--demo")
    assert second.returncode == 0, second.stderr
    assert secret_lines(second.stdout) == []
    assert "system key exists" in second.stdout
    settings = load_settings(None, {"BELLA_SERVER_DATA_DIR": str(tmp_path / "data")})
    store = await open_configured_store(settings)
    try:
        [row] = await store.list_apikeys()
        assert (row.sha256, row.role) == (hash_secret(secret), "all")
        names = sorted(m.name for m in await store.list_models())
        assert names == ["mock-asr", "mock-chat", "mock-embedding", "mock-image", "mock-tts"]
    finally:
        await store.close()
    assert oct((tmp_path / "data" / "master.key").stat().st_mode & 0o777) == "0o600"


async def test_config_catalog_applies_idempotently(tmp_path: Path) -> None:
    config = tmp_path / "bella.yaml"
    config.write_text(CATALOG)
    for _ in range(2):
        done = run(tmp_path, "--config", str(config), "init")
        assert done.returncode == 0, done.stderr
    assert "sk-channel-secret-xyz" not in done.stdout + done.stderr
    settings = load_settings(str(config), {"BELLA_SERVER_DATA_DIR": str(tmp_path / "data")})
    store = await open_configured_store(settings)
    try:
        [channel] = await store.list_channels()
        assert (channel.model, channel.weight) == ("gpt-cfg", 3)
        assert channel.credentials == {"api_key": "sk-channel-secret-xyz"}
    finally:
        await store.close()
    raw = (tmp_path / "data" / "bella.db").read_bytes()
    assert b"sk-channel-secret-xyz" not in raw


def test_apikey_create_list_revoke(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    created = run(tmp_path, "apikey", "create", "--name", "batch", "--role", "high")
    assert created.returncode == 0, created.stderr
    [secret] = secret_lines(created.stdout)
    code = created.stdout.split()[1]
    listed = run(tmp_path, "apikey", "list").stdout
    assert code in listed
    assert secret not in listed
    assert f"{secret[:5]}****{secret[-4:]}" in listed
    assert run(tmp_path, "apikey", "revoke", code).returncode == 0
    assert "inactive" in run(tmp_path, "apikey", "list").stdout
    assert run(tmp_path, "apikey", "revoke", "ak-nope").returncode == 1


@pytest.mark.parametrize("args", [["--config", "/nonexistent.yaml", "init"], ["apikey", "nope"]])
def test_bad_invocations_fail_clearly(tmp_path: Path, args: list[str]) -> None:
    done = run(tmp_path, *args)
    assert done.returncode != 0
    assert done.stderr
    assert "Traceback" not in done.stderr


def test_apikey_children_update_rename_reset(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    parent = run(tmp_path, "apikey", "create", "--name", "p", "--role", "high", "--qps", "10")
    parent_code = parent.stdout.split()[1]
    too_fast = run(
        tmp_path, "apikey", "create", "--name", "c", "--parent", parent_code, "--qps", "11"
    )
    assert too_fast.returncode == 1
    assert "cannot exceed" in too_fast.stderr
    child = run(tmp_path, "apikey", "create", "--name", "c", "--parent", parent_code)
    assert child.returncode == 0, child.stderr
    child_code = child.stdout.split()[1]
    updated = run(tmp_path, "apikey", "update", child_code, "--qps", "4", "--month-quota", "2.5")
    assert updated.returncode == 0, updated.stderr
    assert "qps=4" in updated.stdout
    assert "quota=2.5" in updated.stdout
    assert run(tmp_path, "apikey", "update", child_code, "--qps", "12").returncode == 1
    assert "renamed" in run(tmp_path, "apikey", "rename", child_code, "renamed").stdout
    old = secret_lines(child.stdout)
    reset = run(tmp_path, "apikey", "reset", child_code)
    assert reset.returncode == 0
    assert secret_lines(reset.stdout) != old
    assert child_code in reset.stdout
