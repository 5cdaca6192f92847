"""Sending `UpstreamRequest`s: the relay client, the shared ClientSession, the in-process mock.

`send` (JSON and SSE) goes through `gateway.h1_client`, which raises `UpstreamError`s itself.
`send_form` (multipart, streamed from blobs) and `connect` (WebSockets) serve the media
endpoints over the ClientSession; this is where aiohttp's client exceptions become our
`UpstreamError`s. `mock:` URLs go to the mock in process (`adapters.media`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from aiohttp import ClientTimeout, web

from adapters.base import UpstreamRequest
from adapters.base_media import MessageSocket, SocketTarget, UpstreamForm
from adapters.errors import UpstreamTimeout, UpstreamUnavailable
from adapters.media import connect_mock, serve_mock, serve_mock_form
from gateway.h1_client import H1Client
from gateway.keys import HTTP, SETTINGS, UPSTREAM
from gateway.upstream_media import multipart, open_socket

READ_CHUNK = 64 * 1024


class UpstreamResponse(Protocol):
    status: int
    headers: Mapping[str, str]

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def read(self) -> bytes: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class _HttpResponse:
    status: int
    headers: Mapping[str, str]
    raw: aiohttp.ClientResponse

    async def chunks(self) -> AsyncIterator[bytes]:
        with map_client_errors():
            async for data in self.raw.content.iter_any():
                yield data

    async def read(self) -> bytes:
        with map_client_errors():
            return await self.raw.read()

    def close(self) -> None:
        self.raw.close()


@dataclass(slots=True)
class _MockResponse:
    status: int
    headers: Mapping[str, str]
    body: AsyncIterator[bytes]

    def chunks(self) -> AsyncIterator[bytes]:
        return self.body

    async def read(self) -> bytes:
        return b"".join([data async for data in self.body])

    def close(self) -> None:
        aclose = getattr(self.body, "aclose", None)
        if aclose is not None:
            task = asyncio.ensure_future(aclose())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())


@contextmanager
def map_client_errors() -> Iterator[None]:
    """Turn aiohttp client failures into the upstream error tree."""
    try:
        yield
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamTimeout("The upstream did not answer in time.") from exc
    except aiohttp.ClientError as exc:
        name = type(exc).__name__
        raise UpstreamUnavailable(f"The upstream could not be reached: {name}.") from exc


class Upstream:
    """JSON and SSE exchanges go through the lean relay client; forms and sockets through
    aiohttp's ClientSession, which also serves the login flows."""

    def __init__(self, session: aiohttp.ClientSession, relay: H1Client) -> None:
        self._session = session
        self._relay = relay

    def send(self, request: UpstreamRequest, limits: ClientTimeout) -> Awaitable[UpstreamResponse]:
        """Await it for the response (a plain function: one coroutine less per request)."""
        if request.url.startswith("mock:"):
            return _send_mock(request)
        # The URL goes out as the adapter encoded (and maybe signed) it.
        return self._relay.request(
            request.method, request.url, request.headers, request.body, limits
        )

    async def send_form(self, form: UpstreamForm, limits: ClientTimeout) -> UpstreamResponse:
        if form.url.startswith("mock:"):
            served = await serve_mock_form(form)
            return _MockResponse(served.status, served.headers, served.body)
        with map_client_errors():
            raw = await self._session.post(
                form.url, data=multipart(form), headers=form.headers, timeout=limits
            )
        return _HttpResponse(raw.status, raw.headers, raw)

    async def connect(self, target: SocketTarget, limits: ClientTimeout) -> MessageSocket:
        if target.url.startswith("mock:"):
            return connect_mock(target)
        return await open_socket(self._session, target, limits)


async def _send_mock(request: UpstreamRequest) -> UpstreamResponse:
    served = await serve_mock(request)
    return _MockResponse(served.status, served.headers, served.body)


async def _session_ctx(app: web.Application) -> AsyncIterator[None]:
    limits = app[SETTINGS].upstream
    connector = aiohttp.TCPConnector(
        limit=limits.pool_limit,
        limit_per_host=limits.pool_limit_per_host,
        ttl_dns_cache=300,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=ClientTimeout(total=None, connect=limits.connect_timeout_s),
        skip_auto_headers=("User-Agent",),
    )
    relay = H1Client(
        asyncio.get_running_loop(),
        limit_per_host=limits.pool_limit_per_host or limits.pool_limit,
    )
    app[HTTP] = session
    app[UPSTREAM] = Upstream(session, relay)
    yield
    await relay.close()
    await session.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_session_ctx)
