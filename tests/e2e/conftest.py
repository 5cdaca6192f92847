"""Headless Chromium for the browser tests: Debian's `chromium`, driven by playwright-python.

Browsers cannot be downloaded here, so `playwright install` is never run: the fixture
launches /usr/bin/chromium (installing the Debian package when it is missing) and fails,
never skips, when it cannot.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers.install import apt_install

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_path() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        apt_install("chromium", "The console's browser tests need Debian's chromium")
    return CHROMIUM


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=ARGS, timeout=30_000)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start()
    yield fake
    await fake.close()
