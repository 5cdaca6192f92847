"""Fixtures shared by the adapter tests."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import orjson
import pytest


@pytest.fixture
def parsed_payloads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every payload the OpenAI adapter hands to orjson.loads, in order."""
    parsed: list[bytes] = []
    loads: Callable[[bytes], Any] = orjson.loads

    def counting_loads(payload: bytes) -> Any:
        parsed.append(payload)
        return loads(payload)

    fake = SimpleNamespace(loads=counting_loads, JSONDecodeError=orjson.JSONDecodeError)
    monkeypatch.setattr("adapters.openai.orjson", fake)
    return parsed
