"""The S3-compatible file store (AWS S3, MinIO, Aliyun OSS, …) through aiobotocore.

aiobotocore is the `s3` extra (`pip install 'bella-gateway[s3]'`), imported only when this
backend is configured. Reads are ranged GETs streamed in chunks; the retention sweep lists
the `yyyy/mm/dd/` prefixes and deletes whole old days in batches of 1000 keys. botocore's
failures become `StorageError` here, at the boundary.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterator
from contextlib import AsyncExitStack
from datetime import date
from typing import Any

from gateway.files.base import StorageError
from gateway.settings import FilesSettings

CHUNK = 256 * 1024
DELETE_BATCH = 1000


@contextlib.contextmanager
def _mapped(action: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(f"S3 {action} failed: {exc}") from exc


class S3Store:
    def __init__(self, client: Any, bucket: str, prefix: str, stack: AsyncExitStack) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._stack = stack

    @classmethod
    async def open(cls, settings: FilesSettings) -> S3Store:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        config = AioConfig(
            s3={"addressing_style": settings.s3_addressing_style},
            retries={"max_attempts": 3, "mode": "standard"},
        )
        stack = AsyncExitStack()
        client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                region_name=settings.s3_region or None,
                endpoint_url=settings.s3_endpoint_url or None,
                aws_access_key_id=settings.s3_access_key_id or None,
                aws_secret_access_key=settings.s3_secret_access_key or None,
                config=config,
            )
        )
        return cls(client, settings.s3_bucket, settings.s3_prefix, stack)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        with _mapped("put"):
            await self._client.put_object(
                Bucket=self._bucket, Key=self._prefix + key, Body=data, ContentType=content_type
            )

    async def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            with _mapped("head"):
                head = await self._client.head_object(Bucket=self._bucket, Key=self._prefix + key)
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _missing(cause):
                return None
            raise
        return int(head["ContentLength"])

    async def read(self, key: str, start: int, end: int) -> AsyncGenerator[bytes, None]:
        if end <= start:
            return
        with _mapped("get"):
            answer = await self._client.get_object(
                Bucket=self._bucket, Key=self._prefix + key, Range=f"bytes={start}-{end - 1}"
            )
            async with answer["Body"] as body:
                while chunk := await body.read(CHUNK):
                    yield chunk

    async def delete_days_before(self, day: date) -> int:
        deleted = 0
        with _mapped("sweep"):
            for prefix, stored in await self._days():
                if stored < day:
                    deleted += await self._delete_prefix(prefix)
        return deleted

    async def _days(self) -> list[tuple[str, date]]:
        days = []
        for year in await self._children(self._prefix):
            for month in await self._children(year):
                for folder in await self._children(month):
                    parts = folder[len(self._prefix) :].strip("/").split("/")
                    with contextlib.suppress(ValueError):
                        days.append((folder, date(*(int(p) for p in parts))))
        return days

    async def _children(self, prefix: str) -> list[str]:
        found = []
        paginator = self._client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix, Delimiter="/"):
            found += [p["Prefix"] for p in page.get("CommonPrefixes", ())]
        return found

    async def _delete_prefix(self, prefix: str) -> int:
        deleted = 0
        paginator = self._client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
            for start in range(0, len(keys), DELETE_BATCH):
                batch = keys[start : start + DELETE_BATCH]
                await self._client.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True}
                )
                deleted += len(batch)
        return deleted

    async def close(self) -> None:
        await self._stack.aclose()


def _missing(error: Any) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")
