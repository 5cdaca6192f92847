"""The request log: one JSON line per API request, to stdout unless `logs.requests` says else.

A line carries: time, request_id, trace_id, key (the key's code), method, endpoint, model,
channel, status, error, stream, prompt/completion/cached tokens, cost, estimated,
duration_ms, ttft_ms, queue_ms, upstream_ms, gateway_ms, failovers, pid.

No secret can reach it: a line is built only from the request's outcome, its usage record and
the client's trace id (printable ASCII, at most 128 characters) — never from headers, bodies or
channel credentials.

Lines are gathered and written together, at most `FLUSH_AFTER_S` later, so lines from several
workers sharing stdout never interleave: one write holds whole lines and is atomic. To a pipe
or a terminal a write is at most `PIPE_WRITE_MAX` bytes (below PIPE_BUF, the most a pipe
writes atomically); to a regular file, where Linux writes each write() whole, up to
`FILE_WRITE_MAX`, so a busy gateway makes one syscall per hundred-odd lines rather than per
ten. Closing the log writes what is left.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson
from aiohttp import web

from gateway.billing import money_text
from gateway.keys import REQUEST_LOG, SETTINGS
from gateway.store.records import UsageRecord
from gateway.timing import Outcome

log = logging.getLogger(__name__)

TRACE_ID_MAX = 128
FLUSH_AFTER_S = 0.05
PIPE_WRITE_MAX = 4000
FILE_WRITE_MAX = 64 * 1024


def clean_trace_id(value: str | None) -> str:
    """The client's trace id if it is short printable ASCII, else ""."""
    if not value or len(value) > TRACE_ID_MAX or not value.isascii() or not value.isprintable():
        return ""
    return value


class RequestLog:
    """Writes request lines to `sink` (a binary file); None: the log is off."""

    def __init__(self, sink: BinaryIO | None) -> None:
        self._sink = sink
        self._write_max = write_max(sink)
        self._pending: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        self._pid = os.getpid()
        self._failing = False

    @property
    def enabled(self) -> bool:
        return self._sink is not None

    def write(
        self,
        outcome: Outcome,
        record: UsageRecord | None,
        *,
        request_id: str,
        trace_id: str,
        key: str,
        method: str,
    ) -> None:
        if self._sink is None:
            return
        line = self.line(outcome, record, request_id, trace_id, key, method)
        data = orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
        if self._size + len(data) > self._write_max:
            self.flush()
        self._pending.append(data)
        self._size += len(data)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_AFTER_S, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending or self._sink is None:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._size = 0
        try:
            self._sink.write(data)
            self._sink.flush()
        except OSError as exc:  # a full disk or a closed pipe must not fail a request
            if not self._failing:
                log.warning("the request log cannot be written: %s", exc)
            self._failing = True
        else:
            self._failing = False

    def line(
        self,
        outcome: Outcome,
        record: UsageRecord | None,
        request_id: str,
        trace_id: str,
        key: str,
        method: str,
    ) -> dict[str, Any]:
        endpoint, model, channel, status, error, spans, failovers, _, stream = outcome
        total, queue, upstream, gateway = spans
        line: dict[str, Any] = {
            "time": datetime.now(UTC),
            "request_id": request_id,
            "trace_id": trace_id,
            "key": key,
            "method": method,
            "endpoint": endpoint,
            "model": model,
            "channel": channel,
            "status": status,
            "error": error,
            "stream": stream,
            "duration_ms": _ms(total),
            "queue_ms": _ms(queue),
            "upstream_ms": _ms(upstream),
            "gateway_ms": _ms(gateway),
            "failovers": failovers,
            "pid": self._pid,
        }
        if record is not None:
            line["prompt_tokens"] = record.prompt_tokens
            line["completion_tokens"] = record.completion_tokens
            line["cached_tokens"] = record.cached_tokens
            line["cost"] = money_text(record.cost)
            line["estimated"] = record.estimated
            line["ttft_ms"] = record.ttft_ms
        return line

    def close(self) -> None:
        self.flush()
        if self._sink is not None and self._sink is not sys.stdout.buffer:
            self._sink.close()


def _ms(seconds: float) -> float:
    """Milliseconds to the microsecond, half up (`round` is exact but several times slower)."""
    return int(seconds * 1_000_000 + 0.5) / 1000  # spans are never negative


def write_max(sink: BinaryIO | None) -> int:
    """The largest write that stays atomic on `sink`: more for a regular file than a pipe."""
    if sink is None:
        return PIPE_WRITE_MAX
    try:
        regular = stat.S_ISREG(os.fstat(sink.fileno()).st_mode)
    except (OSError, ValueError):  # no file descriptor (a test's buffer) or a closed one
        return PIPE_WRITE_MAX
    return FILE_WRITE_MAX if regular else PIPE_WRITE_MAX


def open_sink(target: str) -> BinaryIO | None:
    """stdout, off, or a file path (appended to)."""
    if target == "off":
        return None
    if target in ("", "stdout"):
        return sys.stdout.buffer
    return open(target, "ab", buffering=0)  # closed by the cleanup context


async def _log_ctx(app: web.Application) -> AsyncIterator[None]:
    log = RequestLog(open_sink(app[SETTINGS].logs.requests))
    app[REQUEST_LOG] = log
    yield
    log.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_log_ctx)
