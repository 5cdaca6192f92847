from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.declare import DEMO_CATALOG
from tests.deploy.tools import promtool as find_promtool
from tests.harness import Gateway, gateway_settings, running_gateway

# One mock model on one channel with a single concurrency slot: the second request queues.
ONE_SLOT: dict[str, Any] = {
    "models": [{"name": "mock-one", "endpoints": ["/v1/chat/completions"]}],
    "channels": [
        {
            "code": "ch-one",
            "model": "mock-one",
            "protocol": "mock",
            "url": "mock://local",
            "deploy_name": "mock-one",
            "max_concurrency": 1,
            "price": {"input": "1", "output": "2"},
        }
    ],
}


@pytest.fixture(scope="session")
def promtool() -> str:
    return find_promtool()


@pytest.fixture
def request_log(tmp_path: Path) -> Path:
    return tmp_path / "requests.log"


@pytest.fixture
async def gateway(tmp_path: Path, request_log: Path) -> AsyncIterator[Gateway]:
    """The embedded gateway with the demo mock model, its request log in a file."""
    settings = gateway_settings(tmp_path, "", DEMO_CATALOG, BELLA_LOGS_REQUESTS=str(request_log))
    async with running_gateway(settings) as gw:
        yield gw


@pytest.fixture
async def one_slot(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = gateway_settings(tmp_path, "", ONE_SLOT, BELLA_LOGS_REQUESTS="off")
    async with running_gateway(settings) as gw:
        yield gw
