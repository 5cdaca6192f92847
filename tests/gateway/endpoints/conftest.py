from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.declare import DEMO_CATALOG
from tests.fakes.openai_media import FakeMedia
from tests.fakes.openai_upstream import API_KEY
from tests.fakes.realtime_upstream import FakeRealtime
from tests.harness import Gateway, gateway_settings, running_gateway

ENDPOINTS = {
    "o-embed": ["/v1/embeddings"],
    "o-tts": ["/v1/audio/speech"],
    "o-asr": ["/v1/audio/transcriptions", "/v1/audio/asr/flash"],
    "o-asr-stream": ["/v1/audio/asr/stream"],
    "o-image": ["/v1/images/generations", "/v1/images/edits"],
    "o-realtime": ["/v1/realtime"],
}
PRICES = {
    "o-embed": {"input": "1"},
    "o-tts": {"per_10k_chars": "10"},
    "o-asr": {"per_second": "0.5", "per_call": "0.25"},
    "o-asr-stream": {"per_second": "0.5"},
    "o-image": {"per_image": "0.5"},
    "o-realtime": {"input": "1", "output": "2", "cached_input": "0.5"},
}


def openai_catalog(url: str, realtime_url: str, **channel: Any) -> dict[str, Any]:
    """`o-*` models on openai channels: HTTP ones to `url`, WebSocket ones to `realtime_url`."""
    models = [{"name": name, "endpoints": paths} for name, paths in ENDPOINTS.items()]
    channels = [
        {
            "code": f"ch-{name}",
            "model": name,
            "protocol": "openai",
            "url": realtime_url if name in ("o-realtime", "o-asr-stream") else url,
            "credentials": {"api_key": API_KEY},
            "deploy_name": f"up-{name}",
            "price": PRICES[name],
            **channel,
        }
        for name in ENDPOINTS
    ]
    return {"models": models, "channels": channels}


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway with the demo catalog: every endpoint served by the in-process mock."""
    async with running_gateway(gateway_settings(tmp_path, "", DEMO_CATALOG)) as gw:
        yield gw


@pytest.fixture
async def media() -> AsyncIterator[FakeMedia]:
    fake = FakeMedia()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def realtime_upstream() -> AsyncIterator[FakeRealtime]:
    fake = FakeRealtime()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def openai_gw(
    tmp_path: Path, media: FakeMedia, realtime_upstream: FakeRealtime
) -> AsyncIterator[Gateway]:
    """A gateway whose `o-*` models go to the fake OpenAI media and Realtime upstreams."""
    catalog = openai_catalog(media.url, realtime_upstream.url)
    async with running_gateway(gateway_settings(tmp_path, "", catalog)) as gw:
        yield gw
