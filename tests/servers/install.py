"""Installing a server binary the tests need: apt-get when root on Debian, else a clear failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def apt_install(package: str, why: str) -> None:
    """Install `package`, or fail the test session saying `why` it is needed. Never skips."""
    if os.geteuid() != 0 or not Path("/etc/debian_version").exists():
        pytest.fail(f"{why}; install it, e.g. `apt-get install {package}`", pytrace=False)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode:
            pytest.fail(f"{' '.join(cmd)} failed:\n{done.stderr[-4000:]}", pytrace=False)
