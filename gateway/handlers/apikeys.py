"""Key self-service under /v1/apikey: whoami, and child keys for keys that may create them.

Console-wide key management is under /console/apikeys (gateway/console/apikeys.py).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import web

from gateway.auth import authenticate
from gateway.billing import money_text
from gateway.errors import InvalidRequest, PermissionDenied
from gateway.handlers.body import json_body
from gateway.keyadmin import KeyLimitsSpec, children, create_key
from gateway.keys import LIMITS, STORE
from gateway.quota import QuotaBook
from gateway.store.records import ApiKey


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def key_view(key: ApiKey, quota: QuotaBook) -> dict[str, Any]:
    """A key as the API shows it: never the secret nor its hash."""
    return {
        "code": key.code,
        "name": key.name,
        "mask": key.mask,
        "role": key.role,
        "parent_code": key.parent_code,
        "status": key.status,
        "month": quota.month,
        "month_quota": None if key.month_quota is None else money_text(key.month_quota),
        "month_spent": money_text(quota.spent(key.code)),
        "limits": {"qps": key.qps, "concurrency": key.concurrency},
        "created_at": key.created_at,
    }


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name, 0)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidRequest(f"'{name}' must be a non-negative integer.", param=name)
    return value


def _amount(body: dict[str, Any], name: str) -> Decimal | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidRequest(f"'{name}' must be a decimal amount.", param=name)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidRequest(f"'{name}' must be a decimal amount.", param=name) from None
    if not amount.is_finite() or amount < 0:
        raise InvalidRequest(f"'{name}' must be ≥ 0.", param=name)
    return amount


def spec_from(body: dict[str, Any], default_role: str = "low") -> KeyLimitsSpec:
    role = body.get("role", default_role)
    if not isinstance(role, str):
        raise InvalidRequest("'role' must be a string.", param="role")
    return KeyLimitsSpec(
        role=role,
        qps=_int(body, "qps"),
        concurrency=_int(body, "concurrency"),
        month_quota=_amount(body, "month_quota"),
    )


def name_from(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("'name' must be a non-empty string.", param="name")
    return name


async def whoami(request: web.Request) -> web.Response:
    key = await authenticate(request)
    return json_response(key_view(key, request.app[LIMITS].quota))


async def create_child(request: web.Request) -> web.Response:
    parent = await authenticate(request)
    body = await json_body(request)
    secret, row = await create_key(request.app[STORE], name_from(body), spec_from(body), parent)
    view = key_view(row, request.app[LIMITS].quota)
    return json_response({**view, "key": secret}, status=201)


async def list_children(request: web.Request) -> web.Response:
    parent = await authenticate(request)
    if parent.parent_code is not None:
        raise PermissionDenied("A child key has no children.")
    quota = request.app[LIMITS].quota
    rows = await children(request.app[STORE], parent.code)
    return json_response({"object": "list", "data": [key_view(k, quota) for k in rows]})
