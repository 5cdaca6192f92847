"""An independent AWS Signature Version 4 check, as AWS runs it on a received request.

Written from the AWS documentation, not from botocore, so a signature botocore makes for the
gateway is checked by a second implementation: canonical request (method, the path
URI-encoded once more — AWS's rule for every service but S3 —, sorted query, the signed
headers, the payload's SHA-256), string to sign, the derived key chain, the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"


class SignatureError(Exception):
    pass


def verify(
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Mapping[str, str],
    service: str,
) -> str:
    """Check the request's signature; returns the access key id that signed it."""
    fields = _authorization(headers.get("Authorization", ""))
    access_key, date, region, signed_service, terminator = fields["Credential"].split("/")
    if signed_service != service or terminator != "aws4_request":
        raise SignatureError("Credential should be scoped to a valid service and aws4_request.")
    if access_key not in secrets:
        raise SignatureError("The security token included in the request is invalid.")
    amz_date = headers.get("X-Amz-Date", "")
    if not amz_date.startswith(date):
        raise SignatureError("Date in Credential scope does not match X-Amz-Date.")
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        raise SignatureError("host and x-amz-date must be signed.")
    canonical = canonical_request(method, raw_path, query, headers, signed, body)
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, _sha256(canonical.encode())])
    key = signing_key(secrets[access_key], date, region, service)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise SignatureError(
            "The request signature we calculated does not match the signature you provided."
        )
    return access_key


def _authorization(value: str) -> dict[str, str]:
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError("Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
    fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise SignatureError("Authorization header requires Credential, SignedHeaders, Signature.")
    return fields


def canonical_request(
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    signed: list[str],
    body: bytes,
) -> str:
    lowered = {name.lower(): value for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{' '.join(lowered[name].split())}\n" for name in signed)
    pairs = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, v in parse_qsl(query, keep_blank_values=True)
    )
    return "\n".join(
        [
            method,
            quote(raw_path, safe="/~"),
            "&".join(f"{k}={v}" for k, v in pairs),
            canonical_headers,
            ";".join(signed),
            _sha256(body),
        ]
    )


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
