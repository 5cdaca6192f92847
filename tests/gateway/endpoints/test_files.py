"""GET/HEAD /files/{id}: signatures, expiry, unknown ids, path tricks; the retention sweep."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import aiohttp
import pytest

from gateway.files.base import FileId
from gateway.files.local import LocalStore
from gateway.files.service import Files
from gateway.files.signing import Signer
from gateway.keys import FILES
from tests.harness import Gateway

DAY = 86_400.0


async def get(gw: Gateway, raw_path: str) -> int:
    url = gw.url + raw_path
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, allow_redirects=False) as answer,
    ):
        return answer.status


@pytest.fixture
async def stored(demo: Gateway) -> FileId:
    return await demo.app[FILES].save(b"\x89PNG\r\n\x1a\nfake", "png", "ak-test")


async def test_signed_url_works_and_forged_expired_unknown_do_not(
    demo: Gateway, stored: FileId
) -> None:
    files = demo.app[FILES]
    good = files.signed_path(stored)
    assert await get(demo, good) == 200
    assert await get(demo, good[:-2] + ("AA" if not good.endswith("AA") else "BB")) == 403
    assert await get(demo, f"/files/{stored}") == 403
    past = int(time.time()) - 10
    expired = f"/files/{stored}?exp={past}&sig={files.signer.sign(str(stored), past)}"
    assert await get(demo, expired) == 403
    later = int(time.time()) + 100
    moved = f"/files/{stored}?exp={later}&sig={files.signer.sign(str(stored), past)}"
    assert await get(demo, moved) == 403
    unknown = FileId(stored.day, stored.owner, "0" * 32, "png")
    assert await get(demo, files.signed_path(unknown)) == 404


@pytest.mark.parametrize(
    "path",
    [
        "/files/..%2F..%2Fbella.db",
        "/files/..%2Fmaster.key",
        "/files/%2Fetc%2Fpasswd",
        "/files//etc/passwd",
        "/files/../master.key",
        "/files/20240101-ak-x-..%2F..%2F..%2Fmaster.key",
        "/files/20240101-..-00000000000000000000000000000000.png",
        "/files/20241301-ak-x-00000000000000000000000000000000.png",
    ],
)
async def test_path_tricks_never_reach_the_store(demo: Gateway, path: str) -> None:
    assert await get(demo, path + "?exp=9999999999&sig=x") in (400, 403, 404)
    assert await get(demo, path) in (400, 403, 404)


def test_ids_parse_strictly() -> None:
    file_id = FileId.new(date(2024, 5, 6), "ak-0123abcd", "png")
    assert FileId.parse(str(file_id)) == file_id
    assert file_id.key == f"2024/05/06/ak-0123abcd/{file_id.token}.png"
    for bad in ("x", f"{file_id}/..", f"../{file_id}", str(file_id).replace(".png", ".exe")):
        assert FileId.parse(bad) is None


async def test_local_store_refuses_keys_outside_its_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "files")
    with pytest.raises(ValueError, match="outside"):
        await store.put("../escape.png", b"x", "image/png")
    assert not (tmp_path / "escape.png").exists()


async def test_retention_sweep_deletes_old_days_only(tmp_path: Path) -> None:
    now = [time.time()]
    files = Files(
        LocalStore(tmp_path), Signer(b"k"), url_ttl_s=60, retention_days=7, clock=lambda: now[0]
    )
    ages = (0, 3, 7, 8, 30)
    start = now[0]
    saved = {}
    for age in ages:
        now[0] = start - age * DAY
        saved[age] = await files.save(f"{age}".encode(), "png", "ak-sweep")
    now[0] = start
    assert await files.sweep() == 2
    for age, file_id in saved.items():
        assert (await files.store.size(file_id.key) is None) == (age > 7)
    (tmp_path / "notes").mkdir()  # anything that is not a yyyy/mm/dd folder stays
    assert await files.sweep() == 0
    assert (tmp_path / "notes").exists()
    never = Files(LocalStore(tmp_path), Signer(b"k"), url_ttl_s=60, retention_days=0)
    assert await never.sweep() == 0
