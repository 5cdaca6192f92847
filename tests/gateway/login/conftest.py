from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cas_server import FakeCas
from tests.fakes.oauth_provider import FakeOAuth
from tests.harness import Gateway, gateway_settings, running_gateway

LoginGateway = Callable[[dict[str, Any]], AbstractAsyncContextManager[Gateway]]


@pytest.fixture
async def oidc() -> AsyncIterator[FakeOAuth]:
    fake = FakeOAuth(kind="oidc")
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def github() -> AsyncIterator[FakeOAuth]:
    fake = FakeOAuth(kind="github")
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def cas_server() -> AsyncIterator[FakeCas]:
    fake = FakeCas()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def login_gateway(tmp_path: Path) -> LoginGateway:
    """A gateway whose `login.providers` are the given ones (and `env` settings)."""

    @asynccontextmanager
    async def start(providers: dict[str, Any], **env: str) -> AsyncIterator[Gateway]:
        base = gateway_settings(tmp_path, "", None, **env)
        login = dataclasses.replace(base.login, providers=providers)
        async with running_gateway(dataclasses.replace(base, login=login)) as gw:
            yield gw

    return start
