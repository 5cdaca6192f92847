"""Uploaded files, held without loading them whole: small ones in memory, the rest on disk.

A multipart form (or a raw audio body) is read part by part; each file part goes into a
`SpooledBlob` that switches from memory to a temporary file past `MEMORY_BYTES`, and the
total is capped (413 past it, read no further). The blobs are re-readable, so a failover
sends the same file to the next channel; the handler closes the `Upload` in `finally`,
which deletes the temporary files.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import BinaryIO

from aiohttp import BodyPartReader, web

from adapters.base_media import FilePart
from gateway.errors import InvalidRequest, RequestTooLarge

MEMORY_BYTES = 1024 * 1024
READ_CHUNK = 256 * 1024
FIELD_LIMIT = 64 * 1024


class SpooledBlob:
    """An uploaded file: the `Blob` adapters see."""

    def __init__(self, filename: str, content_type: str) -> None:
        self.filename = filename
        self.content_type = content_type
        self.size = 0
        self._memory = bytearray()
        self._file: BinaryIO | None = None

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is None:
            self._memory += data
            if len(self._memory) <= MEMORY_BYTES:
                return
            self._file = await asyncio.to_thread(_temporary)
            data, self._memory = bytes(self._memory), bytearray()
        await asyncio.to_thread(self._file.write, data)

    async def head(self, limit: int) -> bytes:
        if self._file is None:
            return bytes(self._memory[:limit])
        return await asyncio.to_thread(_pread, self._file, 0, limit)

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._file is None:
            yield bytes(self._memory)
            return
        await asyncio.to_thread(self._file.flush)
        for offset in range(0, self.size, READ_CHUNK):
            yield await asyncio.to_thread(_pread, self._file, offset, READ_CHUNK)

    def close(self) -> None:
        """Free the memory or delete the temporary file (a closed unlinked file is gone)."""
        self._memory = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None


def _temporary() -> BinaryIO:
    # Unlinked at once: the file disappears when closed, even if the process dies.
    return tempfile.TemporaryFile(prefix="bella-upload-")


def _pread(file: BinaryIO, offset: int, size: int) -> bytes:
    return os.pread(file.fileno(), size, offset)


@dataclass(slots=True)
class Upload:
    """A multipart form as read: text fields in order, and file parts."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[FilePart] = field(default_factory=list)

    def field(self, name: str) -> str | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def close(self) -> None:
        for part in self.files:
            blob = part.blob
            if isinstance(blob, SpooledBlob):
                blob.close()


async def read_form(request: web.Request, *, limit: int) -> Upload:
    """Read a multipart/form-data body; 400 when it is not one, 413 past `limit` bytes."""
    if not request.content_type.startswith("multipart/"):
        raise InvalidRequest(
            "The request body must be multipart/form-data.", code="invalid_content_type"
        )
    upload = Upload()
    try:
        reader = await request.multipart()
        total = 0
        async for part in reader:
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            if part.filename is None:
                upload.fields.append((part.name, await _text(part)))
                continue
            blob = SpooledBlob(part.filename, part.headers.get("Content-Type", ""))
            upload.files.append(FilePart(part.name, blob))
            total = await _spool(part, blob, total, limit)
    except BaseException:
        upload.close()
        raise
    return upload


async def _text(part: BodyPartReader) -> str:
    data = await part.read(decode=False)
    if len(data) > FIELD_LIMIT:
        raise RequestTooLarge(f"The form field '{part.name}' is larger than {FIELD_LIMIT} bytes.")
    return data.decode("utf-8", "replace")


async def _spool(part: BodyPartReader, blob: SpooledBlob, total: int, limit: int) -> int:
    while chunk := await part.read_chunk(READ_CHUNK):
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
        await blob.write(chunk)
    return total


async def read_raw(request: web.Request, *, limit: int, filename: str = "audio") -> SpooledBlob:
    """Spool a raw request body (flash ASR audio); 413 past `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    blob = SpooledBlob(filename, request.headers.get("Content-Type", ""))
    try:
        async for chunk in request.content.iter_chunked(READ_CHUNK):
            if blob.size + len(chunk) > limit:
                raise _too_large(limit)
            await blob.write(chunk)
    except BaseException:
        blob.close()
        raise
    return blob


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"The upload is larger than this gateway accepts ({limit} bytes).")


class PrefixedBlob:
    """A blob with bytes put before it: raw PCM given a WAV header, for Whisper-style APIs."""

    def __init__(self, prefix: bytes, blob: SpooledBlob, *, filename: str, content_type: str):
        self.filename = filename
        self.content_type = content_type
        self.size = len(prefix) + blob.size
        self._prefix = prefix
        self._blob = blob

    async def head(self, limit: int) -> bytes:
        return (self._prefix + await self._blob.head(limit))[:limit]

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self._prefix
        async for chunk in self._blob.chunks():
            yield chunk
