"""Applying the config's `catalog` (and the demo catalog) to the store, idempotently.

Models are matched by name and channels by code; a channel without a code gets one derived
from what identifies it (model or endpoint, protocol, url, deploy name), so applying the same
file twice updates rather than duplicates.
"""

from __future__ import annotations

import hashlib
import math
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

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

PROTOCOLS = frozenset(
    {"openai", "mock", "azure", "anthropic", "gemini", "dashscope", "volcengine", "bedrock"}
)
PRIORITIES = frozenset({"high", "normal", "low"})
URL_SCHEMES = frozenset({"http", "https", "ws", "wss", "mock"})

DEMO_CATALOG: dict[str, Any] = {
    "models": [
        {
            "name": "mock-chat",
            "endpoints": ["/v1/chat/completions"],
            "features": {"stream": True, "function_call": True},
        },
        {"name": "mock-embedding", "endpoints": ["/v1/embeddings"]},
        {"name": "mock-tts", "endpoints": ["/v1/audio/speech"]},
        {
            "name": "mock-asr",
            "endpoints": [
                "/v1/audio/transcriptions",
                "/v1/audio/asr/flash",
                "/v1/audio/asr/stream",
            ],
        },
        {"name": "mock-image", "endpoints": ["/v1/images/generations", "/v1/images/edits"]},
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
        },
        {
            "code": "ch-mock-embedding",
            "model": "mock-embedding",
            "protocol": "mock",
            "url": "mock://local",
            "price": {"input": "0.0001"},
        },
        {
            "code": "ch-mock-tts",
            "model": "mock-tts",
            "protocol": "mock",
            "url": "mock://local",
            "price": {"per_10k_chars": "0.15"},
        },
        {
            "code": "ch-mock-asr",
            "model": "mock-asr",
            "protocol": "mock",
            "url": "mock://local",
            "price": {"per_second": "0.0001", "per_call": "0.002"},
        },
        {
            "code": "ch-mock-image",
            "model": "mock-image",
            "protocol": "mock",
            "url": "mock://local",
            "price": {"per_image": "0.02"},
        },
    ],
}


class CatalogError(ValueError):
    """A catalog entry that cannot be applied; the message names it, `param` the field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


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
    if not isinstance(name, str) or not name.strip() or "," in name:
        raise CatalogError(f"catalog model without a valid name: {entry!r}", "name")
    endpoints = entry.get("endpoints") or ("/v1/chat/completions",)
    if not isinstance(endpoints, list | tuple) or not all(isinstance(e, str) for e in endpoints):
        raise CatalogError(f"model {name}: endpoints must be a list of paths", "endpoints")
    linked_to = entry.get("linked_to") or None
    if linked_to is not None and (not isinstance(linked_to, str) or linked_to == name):
        raise CatalogError(f"model {name}: linked_to must name another model", "linked_to")
    return Model(
        name=name,
        endpoints=tuple(endpoints),
        features=_mapping(entry, "features", name),
        properties=_mapping(entry, "properties", name),
        linked_to=linked_to,
        visibility=_choice(entry, "visibility", ("public", "private"), name),
        owner=str(entry.get("owner", "")),
        status=_choice(entry, "status", ("active", "inactive"), name),
    )


def _channel(entry: dict[str, Any]) -> ChannelRow:
    where = entry.get("code") or entry.get("model") or entry.get("endpoint") or "?"
    protocol = entry.get("protocol")
    if protocol not in PROTOCOLS:
        known = ", ".join(sorted(PROTOCOLS))
        raise CatalogError(f"channel {where}: unknown protocol {protocol!r} ({known})", "protocol")
    if not entry.get("model") and not entry.get("endpoint"):
        raise CatalogError(f"channel {where}: needs a model or an endpoint", "model")
    url = _url(entry, where)
    weight = _number(entry, "weight", 1, where)
    max_concurrency = _number(entry, "max_concurrency", 0, where)
    timeout_s = float(_number(entry, "timeout_s", 600, where, kind=float))
    if timeout_s <= 0:
        raise CatalogError(f"channel {where}: timeout_s must be > 0", "timeout_s")
    return ChannelRow(
        code=str(entry.get("code") or _derived_code(entry)),
        protocol=protocol,
        url=url,
        model=entry.get("model"),
        endpoint=entry.get("endpoint"),
        credentials={k: str(v) for k, v in _mapping(entry, "credentials", where).items()},
        deploy_name=str(entry.get("deploy_name", "")),
        weight=int(weight),
        priority=_choice(entry, "priority", ("normal", "high", "low"), where),
        max_concurrency=int(max_concurrency),
        timeout_s=timeout_s,
        price=_prices(_mapping(entry, "price", where), where),
        options=_mapping(entry, "options", where),
        status=_choice(entry, "status", ("active", "inactive"), where),
        visibility=_choice(entry, "visibility", ("public", "private"), where),
        owner=str(entry.get("owner", "")),
    )


def _url(entry: dict[str, Any], where: str) -> str:
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        raise CatalogError(f"channel {where}: needs a url", "url")
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in URL_SCHEMES or not parts.netloc or any(c.isspace() for c in url):
        raise CatalogError(f"channel {where}: {url!r} is not an http(s) URL", "url")
    return url


def _number(
    entry: dict[str, Any], name: str, default: float, where: str, *, kind: type = int
) -> float:
    """A field that must be a number ≥ 0 (an int unless `kind` is float)."""
    value = entry.get(name, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(value, str):
        try:
            value, ok = kind(value), True
        except ValueError:
            ok = False
    if not ok or value < 0 or not math.isfinite(value) or (kind is int and value != int(value)):
        noun = "an integer" if kind is int else "a number"
        raise CatalogError(f"channel {where}: {name} must be {noun} ≥ 0", name)
    return float(value) if kind is float else int(value)


def _mapping(entry: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = entry.get(name) or {}
    if not isinstance(value, dict):
        raise CatalogError(f"{where}: {name} must be a mapping", name)
    return dict(value)


def _choice(entry: dict[str, Any], name: str, allowed: tuple[Any, ...], where: str) -> Any:
    """The field's value when it is one of `allowed`; absent, the first of them."""
    value = entry.get(name, allowed[0])
    if value not in allowed:
        raise CatalogError(f"{where}: {name} must be one of {', '.join(allowed)}", name)
    return value


def _derived_code(entry: dict[str, Any]) -> str:
    parts = (entry.get("model") or entry.get("endpoint"), entry["protocol"], entry["url"])
    identity = "|".join(str(p) for p in (*parts, entry.get("deploy_name", "")))
    return "ch-" + hashlib.sha256(identity.encode()).hexdigest()[:12]


def _prices(price: dict[str, Any], where: str) -> dict[str, Any]:
    """The channel's prices, every leaf a valid decimal amount (else a clear error)."""
    amounts: dict[str, Any] = _amounts(price)
    for leaf in _leaves(amounts):
        try:
            valid = isinstance(leaf, str) and Decimal(leaf).is_finite() and Decimal(leaf) >= 0
        except (InvalidOperation, TypeError):
            valid = False
        if not valid:
            raise CatalogError(f"channel {where}: price {leaf!r} is not an amount ≥ 0")
    return amounts


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _amounts(value: Any) -> Any:
    """Prices as given, with every number as its decimal text (YAML reads 0.1 as a float)."""
    if isinstance(value, dict):
        return {str(k): _amounts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_amounts(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    return str(value)
