"""Live state of channels as the router sees it: slots, queue depth, cooldown.

`slots_in_use` counts every process (Redis leases) when Redis answers; `slots_held_here`
and `queue_depth` are this process's. An inactive channel has no route, hence zeros.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from gateway.keys import CATALOG, ROUTER
from gateway.store.records import ChannelRow


async def channel_states(request: web.Request, rows: list[ChannelRow]) -> dict[str, dict[str, Any]]:
    router = request.app[ROUTER]
    state = router.state()
    held = {c.code: c for c in state.channels}
    routes = {r.code: r for rs in request.app[CATALOG].routes.values() for r in rs}
    live = [row for row in rows if row.code in routes]
    in_use = await asyncio.gather(*(router.slots_in_use(routes[row.code]) for row in live))
    counts = dict(zip((row.code for row in live), in_use, strict=True))
    states: dict[str, dict[str, Any]] = {}
    for row in rows:
        channel = held.get(row.code)
        states[row.code] = {
            "routed": row.code in routes,
            "slots_in_use": counts.get(row.code, 0),
            "slots_held_here": channel.held if channel else 0,
            "slots_limit": row.max_concurrency,
            "queue_depth": state.queues.get(row.model or "", 0),
            "cooldown_s": round(channel.cooldown_s, 3) if channel else 0.0,
        }
    return states
