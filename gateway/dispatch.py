"""The path every endpoint shares: admit the key, route with failover, meter exactly once.

    call = Call(request[REQUEST_ID], key.code, ENDPOINT, model, kind="embedding")
    return await metered(request, key, call, lambda: dispatch(request, call, key, attempt))

`attempt(route)` sends the request to one channel and returns the response; it raises an
`UpstreamError` only before anything reached the client, which moves on to the next
candidate (bounded by `upstream.max_attempts`). The channel's slot is held while `attempt`
runs, so a streaming `attempt` holds it until the stream ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from adapters.errors import UpstreamError
from gateway.catalog import Route
from gateway.errors import GatewayError, ServiceUnavailable, UpstreamFailed
from gateway.keys import LIMITS, ROUTER, SETTINGS, TIMING, USAGE
from gateway.metering import Call
from gateway.router import client_gone, max_wait
from gateway.shutdown import cancelled_status
from gateway.store.records import ApiKey

T = TypeVar("T")


async def metered(
    request: web.Request, key: ApiKey, call: Call, serve: Callable[[], Awaitable[T]]
) -> T:
    """Run `serve` within the key's limits; record the call once, however it ends."""
    app = request.app
    limits = app[LIMITS]
    try:
        admission = await limits.admit(key, call.request_id)
        try:
            return await serve()
        finally:
            limits.release(call.request_id, admission)
    except GatewayError as exc:
        call.fail(exc.status, exc.code)
        raise
    except asyncio.CancelledError:
        call.fail(*cancelled_status(request))
        raise
    finally:
        app[USAGE].record(call.record())


async def dispatch(
    request: web.Request, call: Call, key: ApiKey, attempt: Callable[[Route], Awaitable[T]]
) -> T:
    """`attempt` on the routed channels in order, each holding its slot, until one answers."""
    app = request.app
    router = app[ROUTER]
    settings = app[SETTINGS]
    ticket = router.ticket(
        call.model,
        key,
        call.request_id,
        endpoint=call.endpoint,
        max_wait_s=max_wait(request, settings.queue),
        gone=client_gone(request),
    )
    timing = request[TIMING]
    last: UpstreamError | None = None
    for _ in range(settings.upstream.max_attempts):
        began = time.perf_counter()
        try:
            lease = await router.acquire(ticket)
        finally:
            timing.add_queue(time.perf_counter() - began)
        if lease is None:
            break
        route = lease.route
        call.model, call.channel, call.tariff = route.row.model or "", route.code, route.tariff
        try:
            timing.upstream_started()
            result = await attempt(route)
        except UpstreamError as exc:
            router.report(route, exc)
            last = exc
            if not exc.retryable:
                break
        else:
            router.report(route, call.upstream_error)
            return result
        finally:
            router.release(lease)
    if last is None:
        raise ServiceUnavailable(
            f"No channel is available for model '{call.model}'.", code="no_channel"
        )
    raise UpstreamFailed(last)
