"""The server under every fake upstream or provider: a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

from typing import ClassVar

from aiohttp import web
from aiohttp.test_utils import TestServer


class LoopbackServer:
    """Subclasses add their routes in `add_routes`; tests `start()` and `close()` them."""

    server: TestServer | None
    base_path: ClassVar[str] = ""  # what `url` adds to the origin, e.g. "/v1"
    client_max_size: ClassVar[int] = 1024**2

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def origin(self) -> str:
        assert self.server is not None, "start() the fake first"
        return str(self.server.make_url("")).rstrip("/")

    @property
    def url(self) -> str:
        return self.origin + self.base_path

    async def start(self) -> None:
        app = web.Application(client_max_size=self.client_max_size)
        self.add_routes(app)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
