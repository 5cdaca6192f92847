"""Signed, expiring file URLs: `/files/{id}?exp={unix seconds}&sig={HMAC-SHA256}`.

The signature covers the id and the expiry, so neither can be changed; it is compared in
constant time. The key is `files.secret`, or derived from the master key (HMAC of a fixed
label), so every process of a deployment signs alike without another secret to share.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

LABEL = b"bella-gateway/files/v1"


def derive_key(master_key: str) -> bytes:
    return hmac.new(master_key.encode(), LABEL, hashlib.sha256).digest()


class Signer:
    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, file_id: str, expires: int) -> str:
        mac = hmac.new(self._key, f"{file_id}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def valid(self, file_id: str, expires: str, signature: str, *, now: float) -> bool:
        """Whether `signature` is ours for `file_id` and `expires`, and not yet expired."""
        if not expires.isdigit() or len(expires) > 12:
            return False
        expected = self.sign(file_id, int(expires))
        return hmac.compare_digest(expected, signature) and int(expires) > now
