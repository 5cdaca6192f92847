"""A fake CAS server (protocol 2/3) on loopback: /cas/login and /cas/serviceValidate.

A service ticket is issued for one exact service URL and validates once, as CAS specifies;
anything else gets the `authenticationFailure` answer CAS gives.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.loopback import LoopbackServer

CAS = "http://www.yale.edu/tp/cas"


@dataclass
class FakeCas(LoopbackServer):
    base_path: ClassVar[str] = "/cas"

    user: str = "carol"
    mail: str = "carol@corp.example"
    tickets: dict[str, str] = field(default_factory=dict)  # ticket -> service
    validations: list[dict[str, str]] = field(default_factory=list)
    server: TestServer | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/cas/login", self._login)
        app.router.add_get("/cas/serviceValidate", self._validate)

    async def _login(self, request: web.Request) -> web.Response:
        service = request.query["service"]
        ticket = "ST-" + secrets.token_hex(12)
        self.tickets[ticket] = service
        separator = "&" if "?" in service else "?"
        location = f"{service}{separator}{urlencode({'ticket': ticket})}"
        return web.Response(status=302, headers={"Location": location})

    async def _validate(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.validations.append(query)
        service = self.tickets.pop(query.get("ticket", ""), None)
        if service is None or service != query.get("service"):
            body = (
                f'<cas:serviceResponse xmlns:cas="{CAS}"><cas:authenticationFailure '
                'code="INVALID_TICKET">Ticket not recognized</cas:authenticationFailure>'
                "</cas:serviceResponse>"
            )
        else:
            body = (
                f'<cas:serviceResponse xmlns:cas="{CAS}"><cas:authenticationSuccess>'
                f"<cas:user>{escape(self.user)}</cas:user><cas:attributes>"
                f"<cas:mail>{escape(self.mail)}</cas:mail></cas:attributes>"
                "</cas:authenticationSuccess></cas:serviceResponse>"
            )
        return web.Response(text=body, content_type="application/xml")
