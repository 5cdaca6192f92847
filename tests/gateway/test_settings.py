from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings


def test_no_file_no_env_is_the_embedded_default() -> None:
    settings = load_settings(None, {})
    assert settings.embedded
    assert settings.database_url == "sqlite:///data/bella.db"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)


def test_yaml_then_env_overrides(tmp_path: Path) -> None:
    config = tmp_path / "bella.yaml"
    config.write_text(
        "server: {port: 9000, host: 0.0.0.0}\n"
        "database: {url: 'mysql://bella:pw@db:3306/bella'}\n"
        "catalog: {models: [{name: m}]}\n"
    )
    settings = load_settings(str(config), {"BELLA_SERVER_PORT": "9100"})
    assert settings.server.port == 9100
    assert settings.server.host == "0.0.0.0"
    assert not settings.embedded
    assert settings.catalog == {"models": [{"name": "m"}]}


def test_bella_config_env_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("upstream: {max_attempts: 5}\n")
    assert load_settings(None, {"BELLA_CONFIG": str(config)}).upstream.max_attempts == 5


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ("servr: {}\n", {}),
        ("server: {prot: 1}\n", {}),
        ("server: 3\n", {}),
        ("- a\n", {}),
        ("server: {port: nope}\n", {}),
        ("", {"BELLA_SERVER_PORT": "eighty"}),
        ("server: {port: true}\n", {}),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, env: dict[str, str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(SettingsError):
        load_settings(str(config), env)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read config"):
        load_settings(str(tmp_path / "absent.yaml"), {})
