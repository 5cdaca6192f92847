"""Records ⇄ SQL rows: column lists, bound parameters and the value conventions of the schema.

Conventions, the same on every backend:
- money is bound as fixed-point text quantized to 8 decimals (the `DECIMAL(20,8)` scale) and
  read back as `Decimal`, never through float;
- JSON columns are orjson text (`Decimal` values inside them are written as strings);
- booleans are 0/1; timestamps are unix seconds.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import orjson

from gateway.store.records import (
    ApiKey,
    AuditEntry,
    Category,
    ChannelRow,
    Endpoint,
    Model,
    Priority,
    Status,
    UsageRecord,
    User,
    Visibility,
)

Row = Sequence[Any]
Params = tuple[object, ...]

MONEY_SCALE = Decimal("0.00000001")

CATEGORY_COLUMNS = ("code", "name", "status")
ENDPOINT_COLUMNS = ("path", "kind", "category", "unit", "status")
MODEL_COLUMNS = (
    "name",
    "endpoints",
    "features",
    "properties",
    "linked_to",
    "visibility",
    "owner",
    "status",
)
CHANNEL_COLUMNS = (
    "code",
    "model",
    "endpoint",
    "protocol",
    "url",
    "credentials",
    "deploy_name",
    "weight",
    "priority",
    "max_concurrency",
    "timeout_s",
    "price",
    "options",
    "status",
    "visibility",
    "owner",
    "updated_at",
)
APIKEY_COLUMNS = (
    "code",
    "sha256",
    "mask",
    "name",
    "role",
    "parent_code",
    "owner",
    "status",
    "qps",
    "concurrency",
    "month_quota",
    "created_at",
)
USAGE_COLUMNS = (
    "request_id",
    "created_at",
    "apikey_code",
    "endpoint",
    "model",
    "channel_code",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost",
    "estimated",
    "latency_ms",
    "ttft_ms",
    "error_code",
)
AUDIT_COLUMNS = (
    "created_at",
    "actor",
    "entity",
    "entity_id",
    "action",
    "before_json",
    "after_json",
    "address",
)
USER_COLUMNS = (
    "code",
    "email",
    "name",
    "role",
    "status",
    "provider",
    "subject",
    "created_at",
    "last_login_at",
    "sessions_valid_after",
)


def quantize_money(value: Decimal) -> Decimal:
    """`value` at the schema's scale of 8 decimals (what a `DECIMAL(20,8)` column keeps)."""
    return value.quantize(MONEY_SCALE)


def money_param(value: Decimal) -> str:
    """Fixed-point text at the schema's scale: `Decimal("0.3")` → `"0.30000000"` (rounded as
    `quantize_money` rounds, in one step)."""
    return format(value, ".8f")


def money_value(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str | int):
        return Decimal(value)
    raise TypeError(f"money column holds {type(value).__name__}, expected text or DECIMAL")


@functools.lru_cache(maxsize=64)
def _month_of_day(day: int) -> str:
    return datetime.fromtimestamp(day * 86400, tz=UTC).strftime("%Y-%m")


def month_of(created_at: float) -> str:
    """The UTC calendar month `YYYY-MM` a unix timestamp falls in (cached by UTC day)."""
    return _month_of_day(int(created_at // 86400))


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: object) -> str:
    return orjson.dumps(value, default=_json_default).decode("utf-8")


def loads_dict(text: str | None) -> dict[str, Any]:
    value = orjson.loads(text) if text else {}
    if not isinstance(value, dict):
        raise TypeError(f"JSON column holds {type(value).__name__}, expected an object")
    return value


def category_params(c: Category) -> Params:
    return (c.code, c.name, c.status)


def category_from(row: Row) -> Category:
    return Category(code=row[0], name=row[1], status=cast(Status, row[2]))


def endpoint_params(e: Endpoint) -> Params:
    return (e.path, e.kind, e.category, e.unit, e.status)


def endpoint_from(row: Row) -> Endpoint:
    return Endpoint(path=row[0], kind=row[1], category=row[2], unit=row[3], status=row[4])


def model_params(m: Model) -> Params:
    return (
        m.name,
        dumps(list(m.endpoints)),
        dumps(m.features),
        dumps(m.properties),
        m.linked_to,
        m.visibility,
        m.owner,
        m.status,
    )


def model_from(row: Row) -> Model:
    return Model(
        name=row[0],
        endpoints=tuple(orjson.loads(row[1])),
        features=loads_dict(row[2]),
        properties=loads_dict(row[3]),
        linked_to=row[4],
        visibility=cast(Visibility, row[5]),
        owner=row[6],
        status=cast(Status, row[7]),
    )


def channel_params(c: ChannelRow, sealed_credentials: str, updated_at: float) -> Params:
    return (
        c.code,
        c.model,
        c.endpoint,
        c.protocol,
        c.url,
        sealed_credentials,
        c.deploy_name,
        c.weight,
        c.priority,
        c.max_concurrency,
        c.timeout_s,
        dumps(c.price),
        dumps(c.options),
        c.status,
        c.visibility,
        c.owner,
        updated_at,
    )


def channel_from(row: Row, credentials: dict[str, str]) -> ChannelRow:
    """A channel from a row whose `credentials` column (index 5) the caller has opened."""
    return ChannelRow(
        code=row[0],
        model=row[1],
        endpoint=row[2],
        protocol=row[3],
        url=row[4],
        credentials=credentials,
        deploy_name=row[6],
        weight=int(row[7]),
        priority=cast(Priority, row[8]),
        max_concurrency=int(row[9]),
        timeout_s=float(row[10]),
        price=loads_dict(row[11]),
        options=loads_dict(row[12]),
        status=cast(Status, row[13]),
        visibility=cast(Visibility, row[14]),
        owner=row[15],
    )


def apikey_params(k: ApiKey, created_at: float) -> Params:
    quota = None if k.month_quota is None else money_param(k.month_quota)
    return (
        k.code,
        k.sha256,
        k.mask,
        k.name,
        k.role,
        k.parent_code,
        k.owner,
        k.status,
        k.qps,
        k.concurrency,
        quota,
        created_at,
    )


def apikey_from(row: Row) -> ApiKey:
    return ApiKey(
        code=row[0],
        sha256=row[1],
        mask=row[2],
        name=row[3],
        role=row[4],
        parent_code=row[5],
        owner=row[6],
        status=cast(Status, row[7]),
        qps=int(row[8]),
        concurrency=int(row[9]),
        month_quota=None if row[10] is None else money_value(row[10]),
        created_at=float(row[11]),
    )


def usage_params(u: UsageRecord) -> Params:
    return (
        u.request_id,
        u.created_at,
        u.apikey_code,
        u.endpoint,
        u.model,
        u.channel_code,
        u.status,
        u.prompt_tokens,
        u.completion_tokens,
        u.cached_tokens,
        money_param(u.cost),
        int(u.estimated),
        u.latency_ms,
        u.ttft_ms,
        u.error_code,
    )


def usage_from(row: Row) -> UsageRecord:
    return UsageRecord(
        request_id=row[0],
        created_at=float(row[1]),
        apikey_code=row[2],
        endpoint=row[3],
        model=row[4],
        channel_code=row[5],
        status=int(row[6]),
        prompt_tokens=int(row[7]),
        completion_tokens=int(row[8]),
        cached_tokens=int(row[9]),
        cost=money_value(row[10]),
        estimated=bool(row[11]),
        latency_ms=int(row[12]),
        ttft_ms=None if row[13] is None else int(row[13]),
        error_code=row[14],
    )


def audit_params(a: AuditEntry, created_at: float) -> Params:
    before = None if a.before is None else dumps(a.before)
    after = None if a.after is None else dumps(a.after)
    return (created_at, a.actor, a.entity, a.entity_id, a.action, before, after, a.address)


def audit_from(row: Row, entry_id: int = 0) -> AuditEntry:
    return AuditEntry(
        id=entry_id,
        created_at=float(row[0]),
        actor=row[1],
        entity=row[2],
        entity_id=row[3],
        action=row[4],
        before=None if row[5] is None else loads_dict(row[5]),
        after=None if row[6] is None else loads_dict(row[6]),
        address=row[7],
    )


def user_params(u: User) -> Params:
    return (
        u.code,
        u.email,
        u.name,
        u.role,
        u.status,
        u.provider,
        u.subject,
        u.created_at,
        u.last_login_at,
        u.sessions_valid_after,
    )


def user_from(row: Row) -> User:
    return User(
        code=row[0],
        email=row[1],
        name=row[2],
        role=row[3],
        status=cast(Status, row[4]),
        provider=row[5],
        subject=row[6],
        created_at=float(row[7]),
        last_login_at=float(row[8]),
        sessions_valid_after=float(row[9]),
    )
