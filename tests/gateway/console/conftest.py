from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.declare import DEMO_CATALOG
from tests.harness import Gateway, gateway_settings, running_gateway


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """An embedded gateway with the demo catalog (its system key is `gateway.key`)."""
    async with running_gateway(gateway_settings(tmp_path, "", DEMO_CATALOG)) as gw:
        yield gw
