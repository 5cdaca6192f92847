"""The audit log: every console change, append-only, and GET /console/audit to read it.

An entry says who (a user's email or a key's code), what (entity, id, action), the entity
before and after with every secret masked, when, and from which address. Nothing updates or
deletes entries; the store has no such method.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway.console.guard import console_actor
from gateway.errors import InvalidRequest
from gateway.handlers.apikeys import json_response
from gateway.keys import STORE
from gateway.routes import add_route
from gateway.store.records import AuditEntry

SECRET_FIELDS = frozenset(
    {"credentials", "api_key", "secret", "client_secret", "password", "key", "token", "sha256"}
)
MAX_LIMIT = 500


def mask_secret(value: object) -> str:
    """A secret as the console may show it: its last 4 characters at most, never the rest."""
    text = str(value)
    return "****" + text[-4:] if len(text) >= 16 else "****"


def masked(value: Any) -> Any:
    """`value` with every secret field's content masked, however deep."""
    if isinstance(value, Mapping):
        return {k: _masked_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def _masked_field(name: str, value: Any) -> Any:
    if name not in SECRET_FIELDS:
        return masked(value)
    if isinstance(value, Mapping):
        return {str(k): mask_secret(v) for k, v in value.items()}
    return None if value is None else mask_secret(value)


async def record(
    request: web.Request,
    actor: str,
    entity: str,
    entity_id: str,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    entry = AuditEntry(
        actor=actor,
        entity=entity,
        entity_id=entity_id,
        action=action,
        before=None if before is None else masked(before),
        after=None if after is None else masked(after),
        address=request.remote or "",
    )
    await request.app[STORE].insert_audit(entry)


def _since(text: str | None) -> float | None:
    """Unix seconds or an ISO 8601 time (UTC unless it says otherwise)."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            "'since' must be unix seconds or an ISO 8601 time.", param="since"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _int(text: str | None, name: str, default: int | None) -> int | None:
    if text is None or text == "":
        return default
    if not text.isdigit() or int(text) < 1:
        raise InvalidRequest(f"'{name}' must be a positive integer.", param=name)
    return int(text)


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    return asdict(entry)


async def list_audit(request: web.Request) -> web.Response:
    await console_actor(request)
    query = request.query
    limit = min(_int(query.get("limit"), "limit", 100) or 100, MAX_LIMIT)
    entries = await request.app[STORE].list_audit(
        limit,
        entity=query.get("entity") or None,
        actor=query.get("actor") or None,
        since=_since(query.get("since")),
        before_id=_int(query.get("before_id"), "before_id", None),
    )
    data = [entry_view(e) for e in entries]
    more = len(entries) == limit
    return json_response({"object": "list", "data": data, "has_more": more})


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", "/console/audit", list_audit)
