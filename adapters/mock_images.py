"""The mock's images: valid PNGs of the requested size, a colour gradient seeded by the prompt.

Generations answer `{created, data: [{b64_json, revised_prompt}]}` like OpenAI; edits check
that the image part is a PNG, JPEG or WebP (else 400, as OpenAI does) and answer the same.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
import zlib
from collections.abc import Mapping
from typing import Any

import orjson

from adapters.base import Channel, UpstreamRequest
from adapters.base_media import FilePart, ImageForm, UpstreamForm
from adapters.mock import MockResponse, error_response, mock_headers, parse_mock_settings
from adapters.mock_common import json_response
from adapters.openai_embeddings import json_request
from adapters.openai_images import OpenAIImageAdapter

MOCK_IMAGES_URL = "mock:images/generations"
MOCK_EDITS_URL = "mock:images/edits"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEFAULT_SIZE = (1024, 1024)
MAX_SIDE = 4096
MAX_IMAGES = 10
_IMAGE_MAGIC = (PNG_SIGNATURE, b"\xff\xd8\xff", b"RIFF")


class MockImageAdapter:
    """`ImageAdapter` for the in-process mock."""

    def __init__(self) -> None:
        self._openai = OpenAIImageAdapter()

    def image_request(
        self, channel: Channel, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        wire = json_request(channel, "", body)
        return UpstreamRequest(
            "POST", MOCK_IMAGES_URL, mock_headers(channel.options, client_headers), wire.body
        )

    def image_edit_request(
        self, channel: Channel, form: ImageForm, client_headers: Mapping[str, str]
    ) -> UpstreamForm:
        files = form.images if form.mask is None else (*form.images, FilePart("mask", form.mask))
        headers = mock_headers(channel.options, client_headers)
        return UpstreamForm(MOCK_EDITS_URL, headers, form.fields, files)

    def image_result(
        self, status: int, headers: Mapping[str, str], data: bytes
    ) -> list[dict[str, Any]]:
        return self._openai.image_result(status, headers, data)


def png(width: int, height: int, seed: bytes) -> bytes:
    """An RGB PNG: a vertical gradient between two colours taken from `seed`."""
    top, bottom = seed[:3], seed[3:6]
    rows = []
    for y in range(height):
        mix = y / max(1, height - 1)
        rgb = bytes(round(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + rgb * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"".join(rows), 6)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def parse_size(value: object) -> tuple[int, int] | None:
    if value in (None, "", "auto"):
        return DEFAULT_SIZE
    if not isinstance(value, str):
        return None
    width, _, height = value.partition("x")
    if not (width.isdigit() and height.isdigit()):
        return None
    w, h = int(width), int(height)
    return (w, h) if 1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE else None


def _answer(fields: Mapping[str, Any]) -> MockResponse:
    prompt = str(fields.get("prompt") or "")
    size = parse_size(fields.get("size"))
    if size is None:
        return error_response(400, f"Invalid size {fields.get('size')!r}: use WIDTHxHEIGHT.")
    count = fields.get("n") or 1
    count = int(count) if isinstance(count, int | str) and str(count).isdigit() else 0
    if not 1 <= count <= MAX_IMAGES:
        return error_response(400, f"'n' must be an integer of 1 to {MAX_IMAGES}.")
    data = []
    for i in range(count):
        image = png(*size, hashlib.sha256(f"{i}:{prompt}".encode()).digest())
        item = {"b64_json": base64.b64encode(image).decode("ascii"), "revised_prompt": prompt}
        data.append(item)
    return json_response({"created": int(time.time()), "data": data})


async def serve_images(request: UpstreamRequest) -> MockResponse:
    settings = parse_mock_settings(request.headers)
    if settings.status is not None and settings.status >= 400:
        return error_response(settings.status, f"Mock error {settings.status}.")
    body = orjson.loads(request.body)
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return error_response(400, "'prompt' is required.")
    return _answer(body)


async def serve_image_edits(form: UpstreamForm) -> MockResponse:
    settings = parse_mock_settings(form.headers)
    if settings.status is not None and settings.status >= 400:
        return error_response(settings.status, f"Mock error {settings.status}.")
    images = [part.blob for part in form.files if part.name != "mask"]
    if not images:
        return error_response(400, "'image' is required.")
    for blob in images:
        if not (await blob.head(16)).startswith(_IMAGE_MAGIC):
            return error_response(400, f"Invalid image file {blob.filename!r}: PNG, JPEG or WebP.")
    return _answer(dict(form.fields))
