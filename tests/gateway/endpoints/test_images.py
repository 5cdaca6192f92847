"""POST /v1/images/generations and /edits, both response formats, then the signed URL."""

from __future__ import annotations

import base64
import struct
from decimal import Decimal

import aiohttp
import openai
import pytest

from adapters.mock_images import PNG_SIGNATURE, png
from tests.fakes.openai_media import FakeMedia
from tests.gateway.endpoints.helpers import sdk, usage_of
from tests.harness import Gateway

PNG = png(4, 4, b"\x01\x02\x03\x04\x05\x06")


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def fetch(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, headers=headers) as answer,
    ):
        return answer.status, dict(answer.headers), await answer.read()


async def test_mock_b64_is_a_valid_png_of_the_size(demo: Gateway) -> None:
    async with sdk(demo) as client:
        answer = await client.images.generate(
            model="mock-image", prompt="a red fox", size="64x32", n=2, response_format="b64_json"
        )
    assert answer.data is not None
    assert len(answer.data) == 2
    image = base64.b64decode(answer.data[0].b64_json or "")
    assert png_size(image) == (64, 32)
    [record] = await usage_of(demo, "/v1/images/generations")
    assert record.cost == Decimal("0.04")  # 2 images at 0.02


async def test_url_is_signed_and_serves_the_png(demo: Gateway) -> None:
    async with sdk(demo) as client:
        answer = await client.images.generate(model="mock-image", prompt="a fox", size="16x16")
    assert answer.data is not None
    url = answer.data[0].url or ""
    assert url.startswith(demo.url + "/files/")
    assert "exp=" in url
    assert "sig=" in url
    status, headers, body = await fetch(url)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert png_size(body) == (16, 16)
    assert headers["Cache-Control"].startswith("private, max-age=")
    assert headers["Accept-Ranges"] == "bytes"
    status, headers, head = await fetch(url, "HEAD")
    assert (status, head, int(headers["Content-Length"])) == (200, b"", len(body))
    status, headers, part = await fetch(url, Range="bytes=1-3")
    assert (status, part, headers["Content-Range"]) == (206, body[1:4], f"bytes 1-3/{len(body)}")
    status, _, tail = await fetch(url, Range="bytes=-4")
    assert (status, tail) == (206, body[-4:])
    status, headers, _ = await fetch(url, Range=f"bytes={len(body)}-")
    assert (status, headers["Content-Range"]) == (416, f"bytes */{len(body)}")


async def test_edit_with_the_sdk_both_formats(openai_gw: Gateway, media: FakeMedia) -> None:
    async with sdk(openai_gw) as client:
        as_b64 = await client.images.edit(
            model="o-image",
            image=("in.png", PNG, "image/png"),
            mask=("mask.png", PNG, "image/png"),
            prompt="add a hat",
            response_format="b64_json",
        )
        as_url = await client.images.edit(
            model="o-image", image=("in.png", PNG, "image/png"), prompt="add a hat"
        )
    assert as_b64.data is not None
    assert as_url.data is not None
    assert png_size(base64.b64decode(as_b64.data[0].b64_json or "")) == (8, 8)
    status, _, body = await fetch(as_url.data[0].url or "")
    assert (status, png_size(body)) == (200, (8, 8))
    first = media.uploads[0]
    assert set(first["files"]) == {"image", "mask"}
    fields = dict(first["fields"])
    assert (fields["model"], fields["response_format"]) == ("up-o-image", "b64_json")
    records = await usage_of(openai_gw, "/v1/images/edits", 2)
    assert {r.cost for r in records} == {Decimal("0.5")}


async def test_generation_through_openai_asks_for_b64(openai_gw: Gateway, media: FakeMedia) -> None:
    async with sdk(openai_gw) as client:
        answer = await client.images.generate(model="o-image", prompt="x", response_format="url")
    assert media.requests[-1]["response_format"] == "b64_json"
    assert answer.data is not None
    assert (answer.data[0].url or "").startswith(openai_gw.url)
    assert answer.data[0].revised_prompt == "x"


async def test_mock_edit_and_bad_inputs(demo: Gateway) -> None:
    async with sdk(demo) as client:
        edited = await client.images.edit(
            model="mock-image",
            image=("in.png", PNG, "image/png"),
            prompt="p",
            size="8x8",
            response_format="b64_json",
        )
        assert edited.data is not None
        with pytest.raises(openai.BadRequestError):  # not an image: the mock's 400
            await client.images.edit(
                model="mock-image", image=("in.png", b"text", "image/png"), prompt="p"
            )
        with pytest.raises(openai.BadRequestError) as caught:
            await client.images.generate(
                model="mock-image", prompt="p", extra_body={"response_format": "gif"}
            )
        assert caught.value.param == "response_format"
        with pytest.raises(openai.BadRequestError):
            await client.images.generate(model="mock-image", prompt="p", n=11)
