"""Files as the handlers use them: save bytes for a key, sign their URL, sweep old days."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from gateway.files.base import FileId, FileStore
from gateway.files.signing import Signer


class Files:
    def __init__(
        self,
        store: FileStore,
        signer: Signer,
        *,
        url_ttl_s: float,
        retention_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.signer = signer
        self.url_ttl_s = url_ttl_s
        self.retention_days = retention_days
        self.clock = clock

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock(), UTC).date()

    async def save(self, data: bytes, ext: str, owner: str) -> FileId:
        file_id = FileId.new(self.today(), owner, ext)
        await self.store.put(file_id.key, data, file_id.content_type)
        return file_id

    def signed_path(self, file_id: FileId) -> str:
        expires = int(self.clock() + self.url_ttl_s)
        signature = self.signer.sign(str(file_id), expires)
        return f"/files/{file_id}?exp={expires}&sig={signature}"

    async def sweep(self) -> int:
        """Delete the days older than `retention_days` (0: keep everything)."""
        if self.retention_days <= 0:
            return 0
        return await self.store.delete_days_before(self.today() - timedelta(self.retention_days))
