"""The mock's embeddings: deterministic unit vectors from a hash of each input.

The same text always gives the same vector (so tests and demos can compare them), of
`dimensions` floats (default 256), as JSON floats or, for `encoding_format: base64`, as
OpenAI sends them: base64 of little-endian float32.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import time
from array import array
from collections.abc import Mapping
from math import sqrt
from typing import Any

import orjson

from adapters.base import Channel, UpstreamRequest
from adapters.base_media import JsonResult
from adapters.mock import MockResponse, error_response, mock_headers, parse_mock_settings
from adapters.mock_common import json_response
from adapters.openai_embeddings import OpenAIEmbeddingAdapter, json_request

MOCK_EMBEDDINGS_URL = "mock:embeddings"
DEFAULT_DIMENSIONS = 256
MAX_DIMENSIONS = 8192
CHARS_PER_TOKEN = 4


class MockEmbeddingAdapter:
    """`EmbeddingAdapter` for the mock: OpenAI's wire format, addressed to `serve_embeddings`."""

    def __init__(self) -> None:
        self._openai = OpenAIEmbeddingAdapter()

    def embedding_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        wire = json_request(channel, "", body)
        headers = mock_headers(channel.options, client_headers)
        return UpstreamRequest("POST", MOCK_EMBEDDINGS_URL, headers, wire.body)

    def embedding_result(self, status: int, headers: Mapping[str, str], data: bytes) -> JsonResult:
        return self._openai.embedding_result(status, headers, data)


def vector(text: str, dimensions: int) -> list[float]:
    """A unit vector of `dimensions` floats, a pure function of `text`."""
    raw = array("h")
    raw.frombytes(hashlib.shake_256(text.encode()).digest(dimensions * 2))
    norm = sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


def float32_base64(values: list[float]) -> str:
    packed = array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _texts(value: object) -> list[str] | None:
    """The inputs as texts (token arrays hash as their numbers); None if malformed."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(v, int) for v in value):
        return [" ".join(map(str, value))]
    if all(isinstance(v, str) for v in value):
        return list(value)
    if all(isinstance(v, list) and all(isinstance(t, int) for t in v) for v in value):
        return [" ".join(map(str, v)) for v in value]
    return None


def _tokens(value: object, texts: list[str]) -> int:
    if isinstance(value, list) and value and not isinstance(value[0], str):
        return sum(len(v) if isinstance(v, list) else 1 for v in value)
    return sum(max(1, len(t) // CHARS_PER_TOKEN) for t in texts)


async def serve_embeddings(request: UpstreamRequest) -> MockResponse:
    settings = parse_mock_settings(request.headers)
    if settings.status is not None and settings.status >= 400:
        return error_response(settings.status, f"Mock error {settings.status}.")
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return error_response(400, "The request body is not JSON.")
    texts = _texts(body.get("input"))
    if texts is None:
        return error_response(400, "'input' must be a string, or an array of strings or tokens.")
    dimensions = body.get("dimensions") or DEFAULT_DIMENSIONS
    if not isinstance(dimensions, int) or not 1 <= dimensions <= MAX_DIMENSIONS:
        return error_response(400, f"'dimensions' must be an integer of 1 to {MAX_DIMENSIONS}.")
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        values = vector(text, dimensions)
        embedding: object = float32_base64(values) if as_base64 else values
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = _tokens(body.get("input"), texts)
    answer = {
        "object": "list",
        "data": data,
        "model": body.get("model") or "mock-embedding",
        "created": int(time.time()),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return json_response(answer)
