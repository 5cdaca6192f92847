"""What the mock's media endpoints share: one-piece bodies and JSON answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from adapters.mock import JSON_TYPE, MockResponse


async def single(data: bytes) -> AsyncIterator[bytes]:
    yield data


def json_response(answer: object) -> MockResponse:
    return MockResponse(200, {"Content-Type": JSON_TYPE}, single(orjson.dumps(answer)))
