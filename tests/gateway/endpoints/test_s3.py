"""The S3 file store against moto's standalone server: objects, ranges, sweep, and a gateway."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from gateway.declare import DEMO_CATALOG
from gateway.files.s3 import S3Store
from gateway.files.service import Files
from gateway.files.signing import Signer
from gateway.settings import FilesSettings
from tests.fakes.s3 import CREDENTIALS, bucket, moto_server
from tests.gateway.endpoints.helpers import sdk
from tests.harness import gateway_settings, running_gateway

DAY = 86_400.0


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
async def store(s3_endpoint: str) -> AsyncIterator[S3Store]:
    async with bucket(s3_endpoint) as name:
        settings = FilesSettings(
            backend="s3",
            s3_bucket=name,
            s3_prefix="bella/",
            s3_endpoint_url=s3_endpoint,
            s3_access_key_id=CREDENTIALS["aws_access_key_id"],
            s3_secret_access_key=CREDENTIALS["aws_secret_access_key"],
            s3_addressing_style="path",
        )
        opened = await S3Store.open(settings)
        yield opened
        await opened.close()


async def read(store: S3Store, key: str, start: int, end: int) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


async def test_put_size_and_ranged_read(store: S3Store) -> None:
    await store.put("2024/01/02/ak-x/a.png", b"0123456789", "image/png")
    assert await store.size("2024/01/02/ak-x/a.png") == 10
    assert await store.size("2024/01/02/ak-x/missing.png") is None
    assert await read(store, "2024/01/02/ak-x/a.png", 2, 5) == b"234"
    assert await read(store, "2024/01/02/ak-x/a.png", 0, 10) == b"0123456789"


async def test_sweep_deletes_old_days(store: S3Store) -> None:
    now = [time.time()]
    files = Files(store, Signer(b"k"), url_ttl_s=60, retention_days=2, clock=lambda: now[0])
    start = now[0]
    saved = {}
    for age in (0, 1, 3, 40):
        now[0] = start - age * DAY
        saved[age] = await files.save(b"x", "png", "ak-s3")
    now[0] = start
    assert await files.sweep() == 2
    for age, file_id in saved.items():
        assert (await store.size(file_id.key) is None) == (age > 2)


async def test_gateway_serves_images_from_s3(tmp_path: Path, s3_endpoint: str) -> None:
    async with bucket(s3_endpoint) as name:
        settings = gateway_settings(
            tmp_path,
            "",
            DEMO_CATALOG,
            BELLA_FILES_BACKEND="s3",
            BELLA_FILES_S3_BUCKET=name,
            BELLA_FILES_S3_ENDPOINT_URL=s3_endpoint,
            BELLA_FILES_S3_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
            BELLA_FILES_S3_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
            BELLA_FILES_S3_ADDRESSING_STYLE="path",
        )
        async with running_gateway(settings) as gw, sdk(gw) as client:
            answer = await client.images.generate(model="mock-image", prompt="s3", size="8x8")
            assert answer.data is not None
            async with (
                aiohttp.ClientSession() as http,
                http.get(answer.data[0].url or "") as got,
            ):
                body = await got.read()
                assert (got.status, got.content_type) == (200, "image/png")
            assert body.startswith(b"\x89PNG")
        assert not (tmp_path / "files").exists()
