"""Normalised data and the per-endpoint Protocols every adapter implements.

Adapters are sans-I/O: they turn a client body into an `UpstreamRequest`, and upstream
bytes into client bytes plus `Usage`. The gateway owns the sockets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Channel:
    """What an adapter needs to know about one upstream."""

    code: str
    protocol: str
    url: str
    deploy_name: str = ""
    credentials: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 600.0
    options: Mapping[str, Any] = field(default_factory=dict)


# Not frozen: built per request (docs/architecture.md, 'Per-request records').
@dataclass(slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    stream: bool = False


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0


# Not frozen: built per request (docs/architecture.md, 'Per-request records').
@dataclass(slots=True)
class ChatResult:
    """A complete (non-stream) answer: the bytes for the client and what to bill."""

    body: bytes
    usage: Usage | None
    finish_reason: str | None = None


class StreamMeter(Protocol):
    """Reads an SSE stream as it passes, sans-I/O.

    `feed` takes raw upstream bytes and returns the bytes to forward to the client
    (for OpenAI-compatible upstreams: the same bytes, whole events only).
    """

    usage: Usage | None
    done: bool  # the terminal `data: [DONE]` has been seen

    @property
    def error(self) -> str | None:
        """The message of the error event the upstream ended the stream with, which went
        to the client as the client's format has it; None when it did not end on one."""

    def feed(self, data: bytes) -> bytes: ...

    def close(self) -> bytes: ...


class ChatAdapter(Protocol):
    def chat_request(
        self,
        channel: Channel,
        body: dict[str, Any],
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest: ...

    def chat_result(self, status: int, headers: Mapping[str, str], data: bytes) -> ChatResult: ...

    def chat_stream(self, body: dict[str, Any]) -> StreamMeter: ...
