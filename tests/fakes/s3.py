"""moto's standalone S3 server on a free loopback port, started and stopped by the test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from moto.server import ThreadedMotoServer

BUCKET = "bella-files"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@contextmanager
def moto_server() -> Iterator[str]:
    """The endpoint URL of a fresh in-memory S3."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@asynccontextmanager
async def bucket(endpoint: str) -> AsyncIterator[str]:
    """A new, empty bucket (its name is unique, so tests sharing a server do not mix)."""
    from aiobotocore.session import get_session

    name = f"{BUCKET}-{secrets.token_hex(4)}"
    async with get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url=endpoint, **CREDENTIALS
    ) as client:
        await client.create_bucket(Bucket=name)
    yield name
