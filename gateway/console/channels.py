"""/console/channels: upstreams of models, with live state and a test call.

Credentials are write-only: a body may set them (all at once), a view shows them masked,
the audit log masks them too. Fields and validation are the config catalog's
(`gateway.declare._channel`); on top, the model or endpoint must exist.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict
from typing import Any

import orjson
from aiohttp import web

from adapters import chat_adapter
from adapters.errors import UpstreamError
from gateway.catalog import Route, make_route
from gateway.console.audit import masked
from gateway.console.crud import CrudRoutes, no_store
from gateway.console.guard import console_actor
from gateway.console.live import channel_states
from gateway.declare import _channel
from gateway.errors import InvalidRequest
from gateway.handlers.apikeys import json_response
from gateway.keys import SETTINGS, UPSTREAM
from gateway.routes import add_route
from gateway.store.base import Store
from gateway.store.records import ChannelRow

FIELDS = frozenset(f.name for f in dataclasses.fields(ChannelRow))  # as the catalog has them
TEST_TIMEOUT_S = 30.0


class Channels:
    entity = "channel"
    key = "code"
    fields = FIELDS

    async def rows(self, store: Store) -> list[ChannelRow]:
        return await store.list_channels()

    async def get(self, store: Store, ident: str) -> ChannelRow | None:
        return await store.get_channel(ident)

    def entry(self, row: ChannelRow) -> dict[str, Any]:
        return asdict(row)

    def build(self, entry: dict[str, Any]) -> ChannelRow:
        return _channel(entry)

    async def check(self, store: Store, row: ChannelRow) -> None:
        if row.model and await store.get_model(row.model) is None:
            raise InvalidRequest(f"No model '{row.model}'.", param="model")
        if row.endpoint and await store.get_endpoint(row.endpoint) is None:
            raise InvalidRequest(f"No endpoint '{row.endpoint}'.", param="endpoint")

    async def insert(self, store: Store, row: ChannelRow) -> None:
        await store.insert_channel(row)

    async def save(self, store: Store, row: ChannelRow) -> None:
        await store.upsert_channel(row)

    async def present(self, request: web.Request, rows: list[ChannelRow]) -> list[dict[str, Any]]:
        states = await channel_states(request, rows)
        return [{**masked(asdict(row)), "state": states[row.code]} for row in rows]


async def test_call(request: web.Request) -> web.Response:
    """POST /console/channels/{code}/test: one small chat straight to the channel.

    It bypasses routing, slots and metering (an admin's probe, not traffic) and reports
    the upstream's status, latency and the start of the reply.
    """
    await console_actor(request)
    row = await CrudRoutes(Channels()).one(request)
    if not row.model:
        raise InvalidRequest("Only a model's chat channel can be test-called.", param="code")
    settings = request.app[SETTINGS].upstream
    route = make_route(row, settings.connect_timeout_s)
    body: dict[str, Any] = {"model": row.model, "max_tokens": 16}
    body["messages"] = [{"role": "user", "content": "ping"}]
    started = time.monotonic()
    outcome = await _probe(request, route.channel.protocol, route, body)
    outcome["latency_ms"] = round((time.monotonic() - started) * 1000)
    return no_store(json_response(outcome))


async def _probe(
    request: web.Request, protocol: str, route: Route, body: dict[str, Any]
) -> dict[str, Any]:
    """The outcome of one call; `status` is the upstream's own HTTP status (0: no answer)."""
    try:
        adapter = chat_adapter(protocol)
    except KeyError:
        return {"ok": False, "status": 0, "error": f"No chat adapter for '{protocol}'."}
    status = 0
    try:
        upstream = adapter.chat_request(route.channel, body, {})
        response = await request.app[UPSTREAM].send(upstream, route.call_timeout)
        status = response.status
        try:
            data = await response.read()
        finally:
            response.close()
        result = adapter.chat_result(response.status, response.headers, data)
    except UpstreamError as exc:
        return {"ok": False, "status": status, "error": exc.message}
    return {"ok": True, "status": status, "reply": _reply(result.body)}


def _reply(body: bytes) -> str:
    try:
        return str(orjson.loads(body)["choices"][0]["message"]["content"])[:300]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return body[:300].decode("utf-8", "replace")


def add_routes(app: web.Application) -> None:
    crud = CrudRoutes(Channels())
    crud.add(app, "/console/channels")
    add_route(app, "POST", "/console/channels/{code}/test", test_call)
