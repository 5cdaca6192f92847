"""One request's way to a slot: fallback models, priority tiers, weights, the queue.

The tiers of a request are its models in fallback order, each split by priority
(high > normal > low). A channel is usable when this request has not tried it yet and it is
not cooling down; when no channel of any tier is usable, the cooled ones are (last resort).

`Planner.acquire` takes a slot on the first usable tier: smooth weighted round-robin over
its weighted channels, skipping the full ones, then its standbys (weight 0). If all are full
it waits in that model's queue until a slot frees or the request's max wait passes; then it
tries every usable tier once more without waiting (a lower tier or a fallback model takes
the request only now) and otherwise answers 429 `queue_timeout`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gateway.catalog import Route
from gateway.errors import RateLimited
from gateway.routing.health import Health
from gateway.routing.queue import ClientGone, ModelQueue, Queues, Woken
from gateway.routing.slots import Lease, SlotPool
from gateway.routing.wrr import SmoothWeighted

PRIORITIES = ("high", "normal", "low")
QUEUE_RETRY_AFTER_S = 1.0


@dataclass(frozen=True, slots=True)
class Tier:
    model: str
    routes: tuple[Route, ...]


@dataclass(slots=True)
class Ticket:
    """A request's routing state across its attempts."""

    request_id: str
    tiers: tuple[Tier, ...]
    deadline: float  # loop time
    gone: Callable[[], bool]
    tried: set[str] = field(default_factory=set)

    def remaining(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()


def tiers_of(model: str, routes: tuple[Route, ...]) -> list[Tier]:
    tiers = []
    for priority in PRIORITIES:
        chosen = tuple(r for r in routes if r.row.priority == priority)
        if chosen:
            tiers.append(Tier(model, chosen))
    return tiers


class Planner:
    def __init__(self, health: Health, slots: SlotPool, queues: Queues) -> None:
        self._health = health
        self._slots = slots
        self._queues = queues
        self._wrr = SmoothWeighted()

    async def acquire(self, ticket: Ticket) -> Lease | None:
        """A slot for the next attempt; None when no untried channel is left."""
        tiers = self.usable(ticket)
        if not tiers:
            return None
        queue = self._queues.get(tiers[0].model)
        epoch = queue.epoch
        if not len(queue) or ticket.remaining() <= 0:
            lease = _taken(ticket, await self._take(tiers[0], ticket))
            if lease is not None:
                return lease
        if ticket.remaining() > 0:
            lease = await self._wait(queue, ticket, retry=queue.epoch != epoch)
            if lease is not None:
                return lease
        for tier in self.usable(ticket):
            lease = _taken(ticket, await self._take(tier, ticket))
            if lease is not None:
                return lease
        raise RateLimited(
            "No concurrency slot became free within the request's max wait.",
            code="queue_timeout",
            retry_after=QUEUE_RETRY_AFTER_S,
        )

    def usable(self, ticket: Ticket) -> list[Tier] | tuple[Tier, ...]:
        health, tried = self._health, ticket.tried
        now = health.clock()
        if not tried and health.quiet(now):
            return ticket.tiers  # the common first attempt: every channel is usable
        tiers = []
        for tier in ticket.tiers:
            routes = tuple(
                r for r in tier.routes if r.code not in tried and not health.cooling(r.code, now)
            )
            if routes:
                tiers.append(Tier(tier.model, routes))
        if tiers:
            return tiers
        for tier in ticket.tiers:  # nothing healthy left: the cooled ones are better than none
            routes = tuple(r for r in tier.routes if r.code not in tried)
            if routes:
                tiers.append(Tier(tier.model, routes))
        return tiers

    async def _wait(self, queue: ModelQueue, ticket: Ticket, *, retry: bool) -> Lease | None:
        number, waiter = queue.join(ticket.deadline, ticket.gone)
        lease: Lease | None = None
        try:
            while True:
                if not retry:
                    why = await waiter.wait()
                    if why is Woken.GONE:
                        raise ClientGone("The client closed the connection while queued.")
                    if why is Woken.TIMEOUT:
                        return None
                tiers = self.usable(ticket)
                if not tiers:
                    return None
                epoch = queue.epoch
                lease = _taken(ticket, await self._take(tiers[0], ticket))
                if lease is not None:
                    return lease
                retry = queue.epoch != epoch  # a slot freed while we asked: ask again
        finally:
            queue.leave(number)
            if lease is not None:
                queue.notify()  # more slots may be free: the next waiter tries too

    def _take(self, tier: Tier, ticket: Ticket) -> Awaitable[Lease | None]:
        """A slot on one of the tier's channels, or None when all are full."""
        routes = tier.routes
        if len(routes) == 1:  # one channel: nothing to choose, no coroutine of our own
            return self._slots.acquire(routes[0], ticket.request_id)
        return self._take_weighted(routes, ticket.request_id)

    async def _take_weighted(self, routes: tuple[Route, ...], request_id: str) -> Lease | None:
        full: set[str] = set()
        while True:
            code = self._wrr.pick((r.code, r.row.weight) for r in routes if r.code not in full)
            if code is None:
                break
            route = next(r for r in routes if r.code == code)
            lease = await self._slots.acquire(route, request_id)
            if lease is not None:
                return lease
            full.add(code)
        for route in routes:
            if route.row.weight <= 0:
                lease = await self._slots.acquire(route, request_id)
                if lease is not None:
                    return lease
        return None


def _taken(ticket: Ticket, lease: Lease | None) -> Lease | None:
    """`lease`, its channel marked tried: a failover goes elsewhere."""
    if lease is not None:
        ticket.tried.add(lease.route.code)
    return lease
