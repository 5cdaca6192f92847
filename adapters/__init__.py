"""Upstream protocol adapters: sans-I/O request building and response reading.

`chat_adapter(protocol)` returns the shared adapter for a channel's `protocol`; adapters hold
no per-request state, so one instance serves every request.
"""

from __future__ import annotations

from functools import cache

from adapters.base import ChatAdapter
from adapters.mock import MockAdapter
from adapters.openai import OpenAIAdapter


def chat_adapter(protocol: str) -> ChatAdapter:
    """The chat adapter for `protocol`; KeyError names the known ones when there is none."""
    adapters = _chat_adapters()
    try:
        return adapters[protocol]
    except KeyError:
        known = ", ".join(sorted(adapters))
        raise KeyError(f"No chat adapter for protocol {protocol!r} (known: {known}).") from None


@cache
def _chat_adapters() -> dict[str, ChatAdapter]:
    # Built on first use, then shared: a cached function rather than a module global.
    return {"openai": OpenAIAdapter(), "mock": MockAdapter()}
