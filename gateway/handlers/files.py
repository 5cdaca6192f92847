"""GET/HEAD /files/{id}?exp=…&sig=…: a stored file, by signed URL, with Range support.

Checks in order: the id's strict pattern (anything else, path tricks included, is a 404
and never reaches the store), the signature and expiry (403), the file's existence (404).
One byte range (`bytes=a-b`, `a-`, `-n`) is answered 206; several ranges or a malformed
header get the whole file, an unsatisfiable range 416. A signed URL may be cached privately
until it expires.
"""

from __future__ import annotations

import contextlib
import re

from aiohttp import web

from gateway import observe
from gateway.errors import NotFound, PermissionDenied, ServiceUnavailable
from gateway.files.base import FileId, StorageError
from gateway.keys import FILES

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


async def get_file(request: web.Request) -> web.StreamResponse:
    file_id = FileId.parse(request.match_info["id"])
    if file_id is None:
        raise NotFound("No such file.", code="file_not_found")
    files = request.app[FILES]
    expires, signature = request.query.get("exp", ""), request.query.get("sig", "")
    now = files.clock()
    if not files.signer.valid(str(file_id), expires, signature, now=now):
        raise PermissionDenied(
            "The file URL's signature is invalid or has expired.", code="invalid_signature"
        )
    try:
        size = await files.store.size(file_id.key)
    except StorageError as exc:
        raise ServiceUnavailable("The file store is unavailable.", code="file_store_error") from exc
    if size is None:
        raise NotFound("No such file.", code="file_not_found")
    try:
        wanted = byte_range(request.headers.get("Range"), size)
    except Unsatisfiable:
        return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
    start, end = wanted or (0, size)
    response = web.StreamResponse(status=206 if wanted else 200)
    response.content_type = file_id.content_type
    response.content_length = end - start
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = f"private, max-age={max(0, int(int(expires) - now))}"
    response.headers["ETag"] = f'"{file_id.token}"'
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    await observe.prepare(request, response)
    if request.method != "HEAD":
        async with contextlib.aclosing(files.store.read(file_id.key, start, end)) as chunks:
            async for chunk in chunks:
                await response.write(chunk)
    await response.write_eof()
    return response


class Unsatisfiable(ValueError):
    """A byte range that starts past the end of the file."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) of the one range asked for; None to serve the whole file."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        if int(last) == 0:
            raise Unsatisfiable(header)
        return max(0, size - int(last)), size
    start = int(first)
    if start >= size or (last and int(last) < start):
        raise Unsatisfiable(header)
    return start, size if not last else min(size, int(last) + 1)
