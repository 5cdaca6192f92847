"""The Debian tools the deploy and observability tests run: found on PATH, else installed."""

from __future__ import annotations

import shutil

import pytest

from tests.servers.install import apt_install


def require(binary: str, package: str, why: str) -> str:
    """The path of `binary`, installing Debian's `package` when it is missing. Never skips."""
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")
    if found is None:
        apt_install(package, why)
        found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")
    if found is None:
        pytest.fail(f"{package} was installed but {binary} is not on PATH", pytrace=False)
    return found


def promtool() -> str:
    return require("promtool", "prometheus", "the metrics and alert rules are checked by promtool")
