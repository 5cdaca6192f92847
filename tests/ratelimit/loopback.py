"""A stand-in Redis on loopback: records what it receives, answers what a test tells it to.

For what a real server will not do on demand: never answer, answer garbage, or show how
commands were grouped into writes. It parses commands with the RESP parser (a command is
an array of bulk strings) and calls ``answer(commands)`` once per chunk it reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType

from ratelimit.resp import Parser, Reply

Answer = Callable[[list[Reply]], bytes]


def silent(commands: list[Reply]) -> bytes:
    return b""


class Loopback:
    def __init__(self, answer: Answer = silent) -> None:
        self._answer = answer
        self.chunks: list[list[Reply]] = []  # the commands of every chunk read, in order
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._handlers: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def __aenter__(self) -> Loopback:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._handlers)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.append(task)
        self._writers.append(writer)
        self.connections += 1
        parser = Parser()
        try:
            while data := await reader.read(1 << 20):
                commands = parser.feed(data)
                self.chunks.append(commands)
                writer.write(self._answer(commands))
        except ConnectionError:  # the client aborted its connection
            return
        finally:
            writer.close()
