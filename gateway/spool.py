"""The usage spool: an append-only JSON-lines file of records the database could not take.

Records are appended and fsynced before they leave memory, and replayed in order when the
database answers again; the store ignores a record it already has (unique request id), so a
replay cut short by a crash is simply replayed again. The file is emptied only after every
record in it was written. Workers of one host share the file: appends and a whole replay
(read, write to the database, empty) each hold an exclusive `flock` on `<spool>.lock`, so no
worker empties records another worker just appended.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from gateway.store.records import UsageRecord


def _default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot spool {type(value).__name__}")


def encode(record: UsageRecord) -> bytes:
    return orjson.dumps(asdict(record), default=_default) + b"\n"


def decode(line: bytes) -> UsageRecord:
    fields: dict[str, Any] = orjson.loads(line)
    fields["cost"] = Decimal(fields["cost"])
    return UsageRecord(**fields)


LOCK_POLL_S = 0.01


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self.count = self._count()

    def waiting(self) -> bool:
        """Whether any worker left records to replay (a stat, once per flush)."""
        return self.path.exists()

    @contextmanager
    def _locked_now(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Hold the spool across awaits; polls rather than blocking the event loop."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(LOCK_POLL_S)
            yield
        finally:
            os.close(fd)

    def _count(self) -> int:
        try:
            with self.path.open("rb") as file:
                return sum(1 for line in file if line.strip())
        except FileNotFoundError:
            return 0

    def append(self, records: Sequence[UsageRecord]) -> None:
        """Write records durably (fsync) before the caller forgets them; blocks, run it in a
        thread."""
        data = b"".join(encode(r) for r in records)
        with self._locked_now():
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        self.count += len(records)

    def read(self) -> list[UsageRecord]:
        """Every complete record (hold `locked()`); a torn last line is skipped."""
        try:
            lines = self.path.read_bytes().split(b"\n")
        except FileNotFoundError:
            return []
        records = []
        for line in lines:
            if line.strip():
                try:
                    records.append(decode(line))
                except (orjson.JSONDecodeError, TypeError, KeyError):
                    continue
        return records

    def clear(self) -> None:
        """Empty the spool (hold `locked()`)."""
        self.path.unlink(missing_ok=True)
        self.count = 0
