"""Which channels a request may use: models, aliases, visibility, private channels.

The router remembers the tiers of a model field every key sees alike; these check that a
key never gets what only another key may see, whatever was asked before, and that a new
catalog replaces what was remembered.
"""

from __future__ import annotations

import pytest

from gateway.catalog import Catalog, Route, make_route
from gateway.errors import NotFound
from gateway.router import Router
from gateway.routing.health import Health, HealthPolicy
from gateway.routing.outbox import Outbox
from gateway.routing.queue import Queues
from gateway.routing.slots import SlotPool
from gateway.store.records import ApiKey, ChannelRow, Model

OWNER = ApiKey("ak-owner", "0" * 64, "sk-ow****")
OTHER = ApiKey("ak-other", "1" * 64, "sk-ot****")


def route(code: str, model: str, **fields: object) -> Route:
    row = ChannelRow(code, "openai", "http://127.0.0.1:9/v1", model=model, **fields)  # type: ignore[arg-type]
    return make_route(row, connect_timeout_s=1.0)


def catalog_of(models: list[Model], routes: list[Route]) -> Catalog:
    catalog = Catalog(store=None)  # type: ignore[arg-type]  # never refreshed here
    replace(catalog, models, routes)
    return catalog


def replace(catalog: Catalog, models: list[Model], routes: list[Route]) -> None:
    """What a refresh does: new dicts swapped in."""
    by_model: dict[str, list[Route]] = {}
    for r in routes:
        by_model.setdefault(r.row.model or "", []).append(r)
    catalog.models = {m.name: m for m in models}
    catalog.routes = {name: tuple(rs) for name, rs in by_model.items()}
    catalog.private = {
        name for name, rs in by_model.items() if any(r.row.visibility != "public" for r in rs)
    }


def router_for(catalog: Catalog) -> Router:
    queues = Queues(depth=10, poll_s=1.0)
    outbox = Outbox()
    slots = SlotPool(
        shared=None, outbox=outbox, ttl_s=30.0, fail_closed=False, retry_s=1.0, on_free=print
    )
    return Router(catalog, health=Health(HealthPolicy()), slots=slots, queues=queues, outbox=outbox)


def codes(router: Router, model: str, key: ApiKey) -> list[str]:
    ticket = router.ticket(model, key, "req-1", max_wait_s=1.0, gone=lambda: False)
    return [r.code for tier in ticket.tiers for r in tier.routes]


async def test_a_private_model_is_its_owners_alone_whoever_asked_first() -> None:
    secret = Model("secret", visibility="private", owner=OWNER.code)
    router = router_for(catalog_of([secret], [route("ch-secret", "secret")]))
    for key in (OWNER, OTHER, OWNER, OTHER):
        if key is OWNER:
            assert codes(router, "secret", key) == ["ch-secret"]
        else:
            with pytest.raises(NotFound):
                codes(router, "secret", key)


async def test_a_private_channel_of_a_public_model_is_its_owners_alone() -> None:
    catalog = catalog_of(
        [Model("gpt")],
        [
            route("ch-public", "gpt"),
            route("ch-own", "gpt", visibility="private", owner=OWNER.code),
        ],
    )
    router = router_for(catalog)
    for _ in range(2):
        assert codes(router, "gpt", OWNER) == ["ch-public", "ch-own"]
        assert codes(router, "gpt", OTHER) == ["ch-public"]


async def test_fallbacks_and_aliases_through_a_private_model_stay_per_key() -> None:
    catalog = catalog_of(
        [Model("gpt"), Model("mine", linked_to="gpt", visibility="private", owner=OWNER.code)],
        [route("ch-gpt", "gpt")],
    )
    router = router_for(catalog)
    for _ in range(2):
        assert codes(router, "mine", OWNER) == ["ch-gpt"]
        assert codes(router, "mine,gpt", OTHER) == ["ch-gpt"]
        with pytest.raises(NotFound):
            codes(router, "mine", OTHER)
    # /v1/models lists by the same rule
    assert catalog.usable("mine", OTHER) is None
    assert catalog.usable("mine", OWNER) == catalog.models["gpt"]


async def test_a_new_catalog_replaces_what_was_remembered() -> None:
    catalog = catalog_of([Model("gpt")], [route("ch-a", "gpt")])
    router = router_for(catalog)
    assert codes(router, "gpt", OWNER) == ["ch-a"]
    replace(catalog, [Model("gpt")], [route("ch-b", "gpt", priority="high"), route("ch-a", "gpt")])
    assert codes(router, "gpt", OTHER) == ["ch-b", "ch-a"]
    replace(catalog, [Model("gpt", visibility="private", owner=OWNER.code)], [route("ch-a", "gpt")])
    with pytest.raises(NotFound):
        codes(router, "gpt", OTHER)
