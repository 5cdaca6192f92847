"""One request's account: what served it, how long it took, what it used, what it cost.

A `Call` is filled in as the request goes and turned into exactly one `UsageRecord`
in the handler's `finally`, whatever way the request ended.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from adapters.base import Usage
from adapters.errors import UpstreamError
from adapters.sse import first_event_size
from gateway.billing import FREE, ZERO, Measure, Tariff
from gateway.store.records import UsageRecord

CLIENT_CLOSED = 499
CHARS_PER_TOKEN = 4
NO_USAGE = Usage()  # never changed: read only


class Call:
    __slots__ = (
        "apikey_code",
        "channel",
        "endpoint",
        "error_code",
        "estimated",
        "first_byte",
        "kind",
        "model",
        "request_id",
        "started",
        "status",
        "tariff",
        "units",
        "upstream_error",
        "usage",
        "wall_started",
    )

    def __init__(
        self, request_id: str, apikey_code: str, endpoint: str, model: str, kind: str = "chat"
    ) -> None:
        self.request_id = request_id
        self.kind = kind
        self.apikey_code = apikey_code
        self.endpoint = endpoint
        self.model = model
        self.channel = ""
        self.tariff: Tariff = FREE
        self.status = 0
        self.error_code = ""
        self.usage: Usage | None = None
        self.units: Measure | None = None  # what is billed besides tokens: characters, …
        self.estimated = False
        self.started = time.perf_counter()
        self.wall_started = time.time()
        self.first_byte: float | None = None
        self.upstream_error: UpstreamError | None = None  # a failure after the first byte

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter()

    def fail(self, status: int, code: str) -> None:
        self.status = status
        self.error_code = code

    def record(self) -> UsageRecord:
        if self.status == 0:
            self.fail(CLIENT_CLOSED, "client_closed")
        usage = self.usage or NO_USAGE
        if not self.channel:
            amount = ZERO
        elif self.units is None:
            amount = self.tariff.tokens(
                self.kind, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
            )
        else:
            amount = self.tariff.cost(self.kind, _measure(usage, self.units))
        first_byte = self.first_byte
        ttft_ms = None if first_byte is None else int((first_byte - self.started) * 1000 + 0.5)
        return UsageRecord(  # positional, in field order: the record is built per request
            self.request_id,
            self.wall_started,
            self.apikey_code,
            self.endpoint,
            self.model,
            self.channel,
            self.status,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens,
            amount,
            self.estimated,
            int((time.perf_counter() - self.started) * 1000 + 0.5),  # durations: never < 0
            ttft_ms,
            self.error_code,
        )


class StreamTally:
    """About how many events a relayed SSE stream held, for the estimate made when the
    upstream reports no usage (about a token an event).

    Counting the blank lines of every chunk would cost more than the rest of the relay; the
    events of one stream differ little in size, so its bytes over the size of its first
    event tell the count closely enough for an estimate.
    """

    __slots__ = ("event_size", "relayed")

    def __init__(self) -> None:
        self.relayed = 0
        self.event_size = 0

    def add(self, data: bytes) -> None:
        if not self.event_size:  # the first event may end in a later chunk
            end = first_event_size(data)
            if end:
                self.event_size = self.relayed + end
        self.relayed += len(data)

    @property
    def events(self) -> int:
        if not self.relayed:
            return 0
        if not self.event_size:
            return 1
        return max(1, round(self.relayed / self.event_size))


def _measure(usage: Usage, units: Measure) -> Measure:
    return Measure(
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_tokens,
        units.characters,
        units.audio_seconds,
        units.calls,
        units.images,
    )


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """A documented heuristic when the upstream reports no usage: ~4 characters a token."""
    chars = 0
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    return max(1, chars // CHARS_PER_TOKEN)
