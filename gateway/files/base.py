"""The file store's one interface, and the ids its files are known by.

A file id names everything the store needs and nothing else, so serving it takes no lookup:
`{yyyymmdd}-{key code}-{32 hex}.{ext}` (the day it was stored, the API key it was made
for, a random token). Its object key groups files by day, then key code:
`yyyy/mm/dd/{key code}/{token}.{ext}`, which is what the retention sweep deletes by.
An id is parsed by one strict pattern: no dots, slashes or other path parts get through.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import date
from typing import Protocol

CONTENT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "json": "application/json",
}
_ID = re.compile(r"(\d{8})-([A-Za-z0-9_-]{1,64})-([0-9a-f]{32})\.([a-z0-9]{1,8})")


@dataclass(frozen=True, slots=True)
class FileId:
    day: date
    owner: str  # the API key's code
    token: str
    ext: str

    @classmethod
    def new(cls, day: date, owner: str, ext: str) -> FileId:
        return cls(day, owner, secrets.token_hex(16), ext)

    @classmethod
    def parse(cls, text: str) -> FileId | None:
        match = _ID.fullmatch(text)
        if match is None or match.group(4) not in CONTENT_TYPES:
            return None
        stamp, owner, token, ext = match.groups()
        try:
            day = date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))
        except ValueError:
            return None
        return cls(day, owner, token, ext)

    def __str__(self) -> str:
        return f"{self.day:%Y%m%d}-{self.owner}-{self.token}.{self.ext}"

    @property
    def key(self) -> str:
        return f"{self.day:%Y/%m/%d}/{self.owner}/{self.token}.{self.ext}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.ext]


class StorageError(Exception):
    """The store failed (unreachable, refused); the message says how."""


class FileStore(Protocol):
    """Where stored files live: a local directory or an S3-compatible bucket."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def size(self, key: str) -> int | None:
        """The file's size in bytes; None when there is no such file."""

    def read(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        """Bytes `start` to `end` (exclusive) of the file, in chunks."""

    async def delete_days_before(self, day: date) -> int:
        """Delete every file stored on a day before `day`; returns how many were deleted."""

    async def close(self) -> None: ...
