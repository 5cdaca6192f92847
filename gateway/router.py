"""The router: which channel serves a request, holding which concurrency slot, and health.

A handler makes a ticket, then per attempt acquires a lease, reports the outcome, and
releases the lease in `finally` (never awaits, so it holds under cancellation)::

    ticket = router.ticket(model, key, request_id, max_wait_s=max_wait(request, settings),
                           gone=client_gone(request))
    lease = await router.acquire(ticket)  # None: no untried channel left
    try:
        ...  # send to lease.route; router.report(lease.route, None or the UpstreamError)
    finally:
        router.release(lease)

The parts live in `gateway.routing`; docs/routing.md explains the algorithm.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web

from adapters.errors import UpstreamError
from gateway import redisconn
from gateway.catalog import Catalog, Route
from gateway.errors import InvalidRequest, NotFound
from gateway.keys import CATALOG, REDIS_SCRIPTS, ROUTER, SETTINGS
from gateway.routing.bus import Bus, Listener
from gateway.routing.health import Health, HealthPolicy
from gateway.routing.outbox import Outbox
from gateway.routing.plan import Planner, Ticket, Tier, tiers_of
from gateway.routing.queue import Queues
from gateway.routing.slots import Lease, RedisSlots, SlotPool
from gateway.settings import QueueSettings, Settings
from gateway.store.records import ApiKey, Model
from gateway.tasks import stop

MAX_WAIT_HEADER = "X-Bella-Max-Wait"
PUBLIC_TIERS_MAX = 1024  # model fields whose tiers are remembered, at most


@dataclass(frozen=True, slots=True)
class ChannelState:
    code: str
    model: str
    priority: str
    weight: int
    held: int  # slots this process holds now
    limit: int  # max_concurrency, 0 = unlimited
    cooldown_s: float  # cooldown left, 0.0 when healthy


@dataclass(frozen=True, slots=True)
class RoutingState:
    """A read-only snapshot of this process's routing state, for metrics and the console."""

    channels: tuple[ChannelState, ...]
    queues: dict[str, int]  # waiting requests per model
    redis_down: bool
    redis_failures: int
    local_fallbacks: int  # slots taken in process because Redis failed (fail-open)


class Router:
    def __init__(
        self,
        catalog: Catalog,
        *,
        health: Health,
        slots: SlotPool,
        queues: Queues,
        outbox: Outbox,
        bus: Bus | None = None,
    ) -> None:
        self._catalog = catalog
        self.health = health
        self.slots = slots
        self.queues = queues
        self._outbox = outbox
        self.bus = bus
        self._planner = Planner(health, slots, queues)
        self._indexed: dict[str, tuple[Route, ...]] | None = None
        # Built from the catalog seen last (`_tiers_of_routes`, `_tiers_of`): each model's
        # tiers, and the tiers of model fields every key sees alike.
        self._tiers_of_routes: dict[str, tuple[Route, ...]] | None = None
        self._tiers_of: dict[str, Model] | None = None
        self._tiers_cache: dict[str, list[Tier]] = {}
        self._public: dict[tuple[str, str], tuple[Tier, ...]] = {}
        self._model_of: dict[str, str] = {}

    def ticket(
        self,
        model_field: str,
        key: ApiKey,
        request_id: str,
        *,
        endpoint: str = "/v1/chat/completions",
        max_wait_s: float,
        gone: Callable[[], bool],
    ) -> Ticket:
        """The request's candidates by tier; a comma list of models is a fallback order.

        Only models that serve `endpoint` count (a model without endpoints serves any).
        """
        catalog = self._catalog
        if catalog.routes is not self._tiers_of_routes or catalog.models is not self._tiers_of:
            self._tiers_cache, self._public = {}, {}
            self._tiers_of_routes, self._tiers_of = catalog.routes, catalog.models
        tiers = self._public.get((model_field, endpoint))
        if tiers is None:
            tiers = self._find(model_field, key, endpoint)
        deadline = asyncio.get_running_loop().time() + max_wait_s
        return Ticket(request_id, tiers, deadline, gone)

    def _find(self, model_field: str, key: ApiKey, endpoint: str) -> tuple[Tier, ...]:
        """The tiers of `model_field` for `key`; remembered when no key could see others."""
        names = model_field.split(",") if "," in model_field else (model_field,)
        tiers = []
        found = False
        public = True
        catalog = self._catalog
        for name in names:
            chain = catalog.chain(name.strip())
            if not chain:  # no such model, for any key
                continue
            if not all(catalog.visible(model, key) for model in chain):
                public = False
                continue
            model = chain[-1]
            if not serves(model, endpoint):
                continue
            found = True
            alike = model.name not in catalog.private  # no channel only some keys see
            public = public and alike and all(m.visibility == "public" for m in chain)
            tiers.extend(self._tiers(model, key))
        if not found:
            raise NotFound(
                f"The model '{model_field}' does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        if public:
            if len(self._public) >= PUBLIC_TIERS_MAX:  # model fields are the clients' words
                self._public.clear()
            self._public[model_field, endpoint] = tuple(tiers)
        return tuple(tiers)

    def _tiers(self, model: Model, key: ApiKey) -> list[Tier]:
        """The model's tiers for this key; built once per catalog when no channel is private."""
        catalog = self._catalog
        if model.name in catalog.private:
            return tiers_of(model.name, catalog.candidates(model, key))
        tiers = self._tiers_cache.get(model.name)
        if tiers is None:
            tiers = self._tiers_cache[model.name] = tiers_of(
                model.name, catalog.candidates(model, key)
            )
        return tiers

    def acquire(self, ticket: Ticket) -> Awaitable[Lease | None]:
        """Await it for a slot of the next attempt; None when no untried channel is left."""
        return self._planner.acquire(ticket)

    def release(self, lease: Lease) -> None:
        self.slots.release(lease)

    def report(self, route: Route, error: UpstreamError | None) -> None:
        """An attempt's outcome, for channel health; a new cooldown is shared."""
        seconds = self.health.report(route.code, error)
        if seconds and self.bus is not None:
            self._outbox.post(partial(self.bus.share_cooldown, route.code, seconds))

    async def slots_in_use(self, route: Route) -> int:
        """Slots held on the channel by every process."""
        return await self.slots.in_use(route)

    def state(self) -> RoutingState:
        now = self.health.clock()
        channels = tuple(
            ChannelState(
                code=route.code,
                model=model,
                priority=route.row.priority,
                weight=route.row.weight,
                held=self.slots.held(route.code),
                limit=route.row.max_concurrency,
                cooldown_s=max(self.health.until(route.code) - now, 0.0),
            )
            for model, routes in self._catalog.routes.items()
            for route in routes
        )
        circuit = self.slots.circuit
        return RoutingState(
            channels=channels,
            queues=self.queues.depths(),
            redis_down=circuit.down,
            redis_failures=circuit.failures,
            local_fallbacks=self.slots.local_fallbacks,
        )

    def listener(self) -> Listener:
        return Listener(self._freed_elsewhere, self._cooled_elsewhere, self._bus_connected)

    def _freed_elsewhere(self, code: str) -> None:
        model = self._model(code)
        if model is not None:
            self.queues.notify(model)

    def _cooled_elsewhere(self, code: str, seconds: float) -> None:
        self.health.cool(code, seconds, self.health.clock())

    def _bus_connected(self) -> None:
        # Messages may have been missed: wake every queue, re-read the running cooldowns.
        self.queues.notify_all()
        self._outbox.post(self._reload_cooldowns)

    async def _reload_cooldowns(self) -> None:
        if self.bus is None:
            return
        codes = [r.code for routes in self._catalog.routes.values() for r in routes]
        now = self.health.clock()
        for code, seconds in (await self.bus.running_cooldowns(codes)).items():
            self.health.cool(code, seconds, now)

    def _model(self, code: str) -> str | None:
        routes = self._catalog.routes
        if routes is not self._indexed:
            self._model_of = {r.code: model for model, rs in routes.items() for r in rs}
            self._indexed = routes
        return self._model_of.get(code)


def serves(model: Model, endpoint: str) -> bool:
    """Whether the model is offered on `endpoint`; /v1/messages goes with chat."""
    endpoints = model.endpoints
    if not endpoints or endpoint in endpoints:
        return True
    return endpoint == "/v1/messages" and "/v1/chat/completions" in endpoints


def max_wait(request: web.Request, settings: QueueSettings) -> float:
    """Seconds the request may wait for a slot: `X-Bella-Max-Wait`, capped, or the default."""
    raw = request.headers.get(MAX_WAIT_HEADER)
    if raw is None:
        return min(settings.default_wait_s, settings.max_wait_s)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise InvalidRequest(
            f"{MAX_WAIT_HEADER} must be a number of seconds ≥ 0.", code="invalid_max_wait"
        )
    return min(value, settings.max_wait_s)


def client_gone(request: web.Request) -> Callable[[], bool]:
    """Whether the client has disconnected (aiohttp does not cancel handlers by default)."""

    def gone() -> bool:
        transport = request.transport
        return transport is None or transport.is_closing()

    return gone


def build_router(app: web.Application, outbox: Outbox) -> Router:
    settings: Settings = app[SETTINGS]
    redis = app[REDIS_SCRIPTS]
    process = os.urandom(6).hex()
    queues = Queues(depth=settings.queue.depth, poll_s=settings.queue.poll_s)
    health = Health(_policy(settings))
    slots = SlotPool(
        shared=None if redis is None else RedisSlots(redis, process),
        outbox=outbox,
        ttl_s=settings.limits.lease_ttl_s,
        fail_closed=settings.limits.redis_failure == "closed",
        retry_s=settings.limits.redis_retry_s,
        on_free=lambda route: queues.notify(route.row.model or ""),
    )
    router = Router(app[CATALOG], health=health, slots=slots, queues=queues, outbox=outbox)
    if redis is not None:
        pubsub = partial(redisconn.pubsub_client, settings.redis)
        router.bus = Bus(redis, pubsub, process=process, listener=router.listener())
    return router


def _policy(settings: Settings) -> HealthPolicy:
    upstream = settings.upstream
    return HealthPolicy(
        cooldown_s=upstream.cooldown_s,
        unreachable_cooldown_s=upstream.unreachable_cooldown_s,
        window_s=upstream.error_window_s,
        min_requests=upstream.error_min_requests,
        error_rate=upstream.error_rate,
    )


def _background(router: Router) -> list[Coroutine[Any, Any, None]]:
    jobs = [router.slots.renew_forever(), router.queues.tick_forever()]
    if router.bus is not None:
        jobs.append(router.bus.listen_forever())
    return jobs


async def _router_ctx(app: web.Application) -> AsyncIterator[None]:
    outbox = Outbox()
    outbox.start()
    router = build_router(app, outbox)
    tasks = [asyncio.create_task(job) for job in _background(router)]
    app[ROUTER] = router
    yield
    await stop(*tasks)
    await outbox.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_router_ctx)
