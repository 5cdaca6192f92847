"""What every fake vendor server shares: a loopback aiohttp server, a script, a record.

Each vendor's fake (one module per provider) adds its routes, its checks of the request (as
the vendor would check it) and its wire format. All of them answer the same script:

- a request that offers tools, and whose conversation does not end with a tool result,
  gets one call of the first tool with arguments from its schema's required properties;
- anything else gets `TEXT` in `PIECES` stream pieces (and `REASONING` first, where the
  vendor has a reasoning channel and the request asked for it);
- `fail_with` answers that status with the vendor's own error body instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.mock_chat import schema_arguments
from tests.fakes.loopback import LoopbackServer

TEXT = "Hello from the fake vendor, in three pieces."
PIECES = ("Hello from ", "the fake vendor, ", "in three pieces.")
REASONING = "The user greets me; I greet back."
PROMPT_TOKENS = 11
COMPLETION_TOKENS = 9
CACHED_TOKENS = 3


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    arguments: dict[str, Any]


@dataclass
class FakeVendor(LoopbackServer):
    """Base of the fakes: subclasses fill `routes`."""

    fail_with: int | None = None
    retry_after: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    server: TestServer | None = None

    def routes(self) -> list[tuple[str, Callable[[web.Request], Any]]]:
        raise NotImplementedError

    def add_routes(self, app: web.Application) -> None:
        for path, handler in self.routes():
            app.router.add_post(path, handler)

    def record(self, request: web.Request, body: dict[str, Any]) -> None:
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.paths.append(request.path_qs)


def planned_call(tools: list[dict[str, Any]], last_is_result: bool) -> Call | None:
    """The scripted tool call for a request offering `tools` (name, JSON schema) pairs."""
    if not tools or last_is_result:
        return None
    first = tools[0]
    return Call(str(first["name"]), schema_arguments(first.get("schema")))


class BadRequest(Exception):
    """A request the vendor would refuse: the fake answers its 400 with this message."""
