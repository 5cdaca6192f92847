"""What the media handlers share: one upstream exchange read whole, headers, estimates."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from aiohttp import ClientTimeout, web

from adapters.base import UpstreamRequest
from adapters.base_media import UpstreamForm
from gateway.keys import UPSTREAM
from gateway.metering import Call

MILLI = Decimal("0.001")


def bella_headers(call: Call) -> dict[str, str]:
    return {"X-Bella-Request-Id": call.request_id, "X-Bella-Channel": call.channel}


async def exchange(
    request: web.Request, outgoing: UpstreamRequest | UpstreamForm, limits: ClientTimeout
) -> tuple[int, Mapping[str, str], bytes]:
    """Send one request upstream and read its whole answer (a JSON or transcript body)."""
    upstream = request.app[UPSTREAM]
    if isinstance(outgoing, UpstreamForm):
        response = await upstream.send_form(outgoing, limits)
    else:
        response = await upstream.send(outgoing, limits)
    try:
        return response.status, response.headers, await response.read()
    finally:
        response.close()


def seconds(value: float) -> Decimal:
    """Audio seconds for billing, to the millisecond."""
    return Decimal(str(value)).quantize(MILLI)


def json_response(call: Call, body: bytes) -> web.Response:
    call.status = 200
    return web.Response(body=body, content_type="application/json", headers=bella_headers(call))
