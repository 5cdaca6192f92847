"""POST /v1/images/generations (JSON) and /v1/images/edits (multipart).

The upstream is asked for base64 images. A client that wants `b64_json` gets them as they
came; one that wants `url` (the default, as for dall-e) gets each image stored in the file
store under its key and a signed, expiring gateway URL to it (`/files/{id}?exp=…&sig=…`,
absolute on `server.public_url` or the request's own host). Billed per image by size and
quality (`per_image`).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from adapters.base_media import FilePart, ImageAdapter, ImageForm
from adapters.errors import UpstreamProtocolError
from adapters.media import image_adapter
from gateway.auth import authenticate
from gateway.billing import Measure
from gateway.catalog import Route
from gateway.dispatch import dispatch, metered
from gateway.errors import InvalidRequest, ServiceUnavailable
from gateway.files.base import StorageError
from gateway.handlers.body import json_body, required_str
from gateway.handlers.media import exchange, json_response
from gateway.keys import FILES, REQUEST_ID, SETTINGS
from gateway.metering import Call
from gateway.store.records import ApiKey
from gateway.uploads import Upload, read_form

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
FORMATS = ("url", "b64_json")
MAX_IMAGES = 10
_MAGIC = ((b"\x89PNG", "png"), (b"\xff\xd8\xff", "jpeg"), (b"RIFF", "webp"))

Send = Callable[[ImageAdapter, Route], Awaitable[list[dict[str, Any]]]]


async def generations(request: web.Request) -> web.StreamResponse:
    key = await authenticate(request)
    body = await json_body(request)
    model = required_str(body, "model")
    required_str(body, "prompt")
    fmt = _format(body.get("response_format"))
    count = _count(body.get("n", 1))
    call = Call(request[REQUEST_ID], key.code, GENERATIONS, model, kind="image-generation")
    call.units = Measure(images=((_size(body), _quality(body), count),))

    async def send(adapter: ImageAdapter, route: Route) -> list[dict[str, Any]]:
        outgoing = adapter.image_request(route.channel, body, request.headers)
        return adapter.image_result(*await exchange(request, outgoing, route.call_timeout))

    return await _serve(request, key, call, fmt, send)


async def edits(request: web.Request) -> web.StreamResponse:
    key = await authenticate(request)
    upload = await read_form(request, limit=request.app[SETTINGS].server.max_body_bytes)
    try:
        form, model = _edit_form(upload)
        fields = dict(form.fields)
        fmt = _format(fields.get("response_format"))
        count = _count(fields.get("n", "1"))
        call = Call(request[REQUEST_ID], key.code, EDITS, model, kind="image-edit")
        call.units = Measure(images=((_size(fields), _quality(fields), count),))

        async def send(adapter: ImageAdapter, route: Route) -> list[dict[str, Any]]:
            outgoing = adapter.image_edit_request(route.channel, form, request.headers)
            return adapter.image_result(*await exchange(request, outgoing, route.call_timeout))

        return await _serve(request, key, call, fmt, send)
    finally:
        upload.close()


async def _serve(
    request: web.Request, key: ApiKey, call: Call, fmt: str, send: Send
) -> web.StreamResponse:
    async def attempt(route: Route) -> web.StreamResponse:
        items = await send(image_adapter(route.channel.protocol), route)
        assert call.units is not None  # set before the request went upstream
        size, quality, _ = call.units.images[0]
        call.units = Measure(images=((size, quality, len(items)),))
        if fmt == "url":
            items = [await _as_url(request, key, item) for item in items]
        answer = {"created": int(time.time()), "data": items}
        return json_response(call, orjson.dumps(answer))

    return await metered(request, key, call, lambda: dispatch(request, call, key, attempt))


async def _as_url(request: web.Request, key: ApiKey, item: dict[str, Any]) -> dict[str, Any]:
    encoded = item.get("b64_json")
    if not isinstance(encoded, str):
        return item  # the upstream answered with its own url: passed on as is
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamProtocolError("The upstream sent an image that is not base64.") from exc
    ext = next((ext for magic, ext in _MAGIC if data.startswith(magic)), "png")
    files = request.app[FILES]
    try:
        file_id = await files.save(data, ext, key.code)
    except StorageError as exc:
        raise ServiceUnavailable(
            "The image could not be stored; ask for b64_json or retry.", code="file_store_error"
        ) from exc
    rest = {k: v for k, v in item.items() if k != "b64_json"}
    return {"url": _origin(request) + files.signed_path(file_id), **rest}


def _origin(request: web.Request) -> str:
    public = request.app[SETTINGS].server.public_url
    return public.rstrip("/") if public else str(request.url.origin())


def _edit_form(upload: Upload) -> tuple[ImageForm, str]:
    images = tuple(p for p in upload.files if p.name in ("image", "image[]"))
    if not images:
        raise InvalidRequest("Missing required parameter: 'image'.", param="image")
    if any(p.blob.size == 0 for p in images):
        raise InvalidRequest("An uploaded image is empty.", param="image", code="empty_file")
    masks = [p.blob for p in upload.files if p.name == "mask"]
    for name in ("model", "prompt"):
        if not upload.field(name):
            raise InvalidRequest(f"Missing required parameter: '{name}'.", param=name)
    model = upload.field("model") or ""
    images = tuple(FilePart(p.name, p.blob) for p in images)
    return ImageForm(images, masks[0] if masks else None, tuple(upload.fields)), model


def _format(value: object) -> str:
    fmt = value or "url"
    if fmt not in FORMATS:
        raise InvalidRequest(
            "'response_format' must be 'url' or 'b64_json'.", param="response_format"
        )
    return str(fmt)


def _count(value: object) -> int:
    text = str(value)
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_IMAGES:
        raise InvalidRequest(f"'n' must be an integer of 1 to {MAX_IMAGES}.", param="n")
    return int(text)


def _size(fields: dict[str, Any]) -> str:
    return str(fields.get("size") or "1024x1024")


def _quality(fields: dict[str, Any]) -> str:
    return str(fields.get("quality") or "standard")
