"""The local-directory file store (the embedded default): one file per object key.

Writes go to a temporary name in the same directory and are renamed into place, so a reader
never sees half a file. Every path is checked to resolve inside the root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncGenerator
from datetime import date
from pathlib import Path

CHUNK = 256 * 1024


class LocalStore:
    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root) or path == self._root:
            raise ValueError(f"object key outside the store: {key!r}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(_write, self._path(key), data)

    async def size(self, key: str) -> int | None:
        try:
            stat = await asyncio.to_thread(os.stat, self._path(key))
        except FileNotFoundError:
            return None
        return stat.st_size

    async def read(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        path = self._path(key)
        fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
        try:
            for offset in range(start, end, CHUNK):
                size = min(CHUNK, end - offset)
                yield await asyncio.to_thread(os.pread, fd, size, offset)
        finally:
            os.close(fd)

    async def delete_days_before(self, day: date) -> int:
        return await asyncio.to_thread(_delete_days_before, self._root, day)

    async def close(self) -> None:
        return None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _delete_days_before(root: Path, cutoff: date) -> int:
    deleted = 0
    for folder, day in _days(root):
        if day < cutoff:
            deleted += sum(1 for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder)
    return deleted


def _days(root: Path) -> list[tuple[Path, date]]:
    """Every yyyy/mm/dd folder under root, with its date; anything else is left alone."""
    found = []
    for folder in root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]"):
        year, month, day = (int(p) for p in folder.relative_to(root).parts)
        try:
            found.append((folder, date(year, month, day)))
        except ValueError:
            continue
    return found
