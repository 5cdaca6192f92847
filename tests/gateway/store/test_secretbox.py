"""SecretBox and the master key (gateway/secretbox.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gateway.secretbox import SecretBox, SecretBoxError, load_master_key


def new_box() -> SecretBox:
    return SecretBox.from_key(Fernet.generate_key().decode())


def test_round_trip() -> None:
    box = new_box()
    secrets = {"api_key": "sk-123", "region": "eastus", "ünïcode": "✓"}
    token = box.encrypt(secrets)
    assert "sk-123" not in token
    assert box.decrypt(token) == secrets
    assert box.encrypt(secrets) != token  # a fresh IV every time


def test_wrong_key_never_yields_plaintext() -> None:
    token = new_box().encrypt({"api_key": "sk-123"})
    with pytest.raises(SecretBoxError, match=r"wrong secrets\.master_key"):
        new_box().decrypt(token)
    with pytest.raises(SecretBoxError):
        new_box().decrypt("not a token")


def test_bad_key_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="not a valid Fernet key") as info:
        SecretBox.from_key("my-short-secret")
    assert "my-short-secret" not in str(info.value)


def test_configured_key_wins(tmp_path: Path) -> None:
    assert load_master_key(" configured ", tmp_path, embedded=True) == "configured"
    assert load_master_key("configured", tmp_path, embedded=False) == "configured"
    assert not (tmp_path / "master.key").exists()


def test_embedded_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = load_master_key("", data_dir, embedded=True)
    path = data_dir / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key("", data_dir, embedded=True) == key
    box = SecretBox.from_key(key)
    assert box.decrypt(box.encrypt({"a": "b"})) == {"a": "b"}


def test_mysql_needs_a_configured_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"secrets\.master_key is required with a MySQL database"):
        load_master_key("", tmp_path, embedded=False)
    assert not (tmp_path / "master.key").exists()


def test_empty_key_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "master.key").write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_master_key("", tmp_path, embedded=True)
