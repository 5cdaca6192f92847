"""Applying the config's `catalog` (and the demo catalog) to the store, idempotently.

Models are matched by name and channels by code; a channel without a code gets one derived
from what identifies it (model or endpoint, protocol, url, deploy name), so applying the same
file twice updates rather than duplicates.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gateway.store.base import Store
from gateway.store.records import ChannelRow, Endpoint, Model

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/v1/chat/completions", "chat", "text/chat", "1k_tokens"),
    Endpoint("/v1/messages", "chat", "text/chat", "1k_tokens"),
    Endpoint("/v1/embeddings", "embedding", "text/embedding", "1k_tokens"),
    Endpoint("/v1/audio/speech", "speech", "audio/tts", "10k_chars"),
    Endpoint("/v1/audio/transcriptions", "transcription", "audio/asr", "audio_second"),
    Endpoint("/v1/audio/asr/flash", "asr-flash", "audio/asr", "call"),
    Endpoint("/v1/audio/asr/stream", "asr-stream", "audio/asr", "audio_second"),
    Endpoint("/v1/realtime", "realtime", "audio/realtime", "1k_tokens"),
    Endpoint("/v1/images/generations", "image-generation", "image", "image"),
    Endpoint("/v1/images/edits", "image-edit", "image", "image"),
)

PROTOCOLS = frozenset({"openai", "mock"})
PRIORITIES = frozenset({"high", "normal", "low"})

DEMO_CATALOG: dict[str, Any] = {
    "models": [
        {
            "name": "mock-chat",
            "endpoints": ["/v1/chat/completions"],
            "features": {"stream": True, "function_call": True},
        }
    ],
    "channels": [
        {
            "code": "ch-mock-chat",
            "model": "mock-chat",
            "protocol": "mock",
            "url": "mock://local",
            "deploy_name": "mock-chat",
            "price": {"input": "0.001", "output": "0.002"},
            "options": {"interval_ms": 20},
        }
    ],
}


class CatalogError(ValueError):
    """A catalog entry that cannot be applied; the message names it."""


async def apply_catalog(store: Store, catalog: dict[str, Any]) -> tuple[int, int]:
    """Create or update every model and channel; returns (models, channels) applied."""
    models = [_model(entry) for entry in _entries(catalog, "models")]
    channels = [_channel(entry) for entry in _entries(catalog, "channels")]
    for model in models:
        await store.upsert_model(model)
    for channel in channels:
        await store.upsert_channel(channel)
    return len(models), len(channels)


async def seed_endpoints(store: Store) -> None:
    for endpoint in ENDPOINTS:
        await store.upsert_endpoint(endpoint)


def _entries(catalog: dict[str, Any], name: str) -> list[dict[str, Any]]:
    entries = catalog.get(name) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CatalogError(f"catalog.{name} must be a list of mappings")
    return entries


def _model(entry: dict[str, Any]) -> Model:
    name = entry.get("name")
    if not isinstance(name, str) or not name or "," in name:
        raise CatalogError(f"catalog model without a valid name: {entry!r}")
    return Model(
        name=name,
        endpoints=tuple(entry.get("endpoints") or ("/v1/chat/completions",)),
        features=dict(entry.get("features") or {}),
        properties=dict(entry.get("properties") or {}),
        linked_to=entry.get("linked_to"),
        visibility=entry.get("visibility", "public"),
        owner=str(entry.get("owner", "")),
        status=entry.get("status", "active"),
    )


def _channel(entry: dict[str, Any]) -> ChannelRow:
    where = entry.get("code") or entry.get("model") or entry.get("endpoint") or "?"
    protocol = entry.get("protocol")
    if protocol not in PROTOCOLS:
        raise CatalogError(f"channel {where}: unknown protocol {protocol!r}")
    if not entry.get("model") and not entry.get("endpoint"):
        raise CatalogError(f"channel {where}: needs a model or an endpoint")
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        raise CatalogError(f"channel {where}: needs a url")
    weight = int(entry.get("weight", 1))
    max_concurrency = int(entry.get("max_concurrency", 0))
    if weight < 0 or max_concurrency < 0:
        raise CatalogError(f"channel {where}: weight and max_concurrency must be ≥ 0")
    priority = entry.get("priority", "normal")
    if priority not in PRIORITIES:
        raise CatalogError(f"channel {where}: priority must be high, normal or low")
    return ChannelRow(
        code=str(entry.get("code") or _derived_code(entry)),
        protocol=protocol,
        url=url,
        model=entry.get("model"),
        endpoint=entry.get("endpoint"),
        credentials={k: str(v) for k, v in (entry.get("credentials") or {}).items()},
        deploy_name=str(entry.get("deploy_name", "")),
        weight=weight,
        priority=priority,
        max_concurrency=max_concurrency,
        timeout_s=float(entry.get("timeout_s", 600)),
        price={k: str(v) for k, v in (entry.get("price") or {}).items()},
        options=dict(entry.get("options") or {}),
        status=entry.get("status", "active"),
        visibility=entry.get("visibility", "public"),
        owner=str(entry.get("owner", "")),
    )


def _derived_code(entry: dict[str, Any]) -> str:
    parts = (entry.get("model") or entry.get("endpoint"), entry["protocol"], entry["url"])
    identity = "|".join(str(p) for p in (*parts, entry.get("deploy_name", "")))
    return "ch-" + hashlib.sha256(identity.encode()).hexdigest()[:12]
