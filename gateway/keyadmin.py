"""Managing API keys: create (children within their parent), rename, reset, limits, status.

Shared by the command line and the HTTP routes, so both enforce the same rules:
- one level of hierarchy: only a top-level key of a role that may create keys has children;
- a child's role, QPS, concurrency and monthly quota stay within its parent's (an unset
  limit under a limited parent takes the parent's value).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from gateway.apikeys import make_key, with_new_secret
from gateway.errors import InvalidRequest, NotFound, PermissionDenied
from gateway.roles import ROLES
from gateway.store.base import Store
from gateway.store.records import ApiKey, Status

RANK = {"low": 0, "high": 1, "console": 2, "all": 3}


@dataclass(frozen=True, slots=True)
class KeyLimitsSpec:
    role: str = "low"
    qps: int = 0
    concurrency: int = 0
    month_quota: Decimal | None = None


def check_spec(spec: KeyLimitsSpec) -> None:
    if spec.role not in ROLES:
        raise InvalidRequest(f"Unknown role '{spec.role}'.", param="role")
    if spec.qps < 0 or spec.concurrency < 0:
        raise InvalidRequest("qps and concurrency must be ≥ 0.", param="qps")
    if spec.month_quota is not None and spec.month_quota < 0:
        raise InvalidRequest("month_quota must be ≥ 0.", param="month_quota")


def _within(child: int, parent: int, name: str) -> int:
    if not parent:
        return child
    if not child:
        return parent
    if child > parent:
        raise PermissionDenied(
            f"A child key's {name} ({child}) cannot exceed its parent's ({parent})."
        )
    return child


def within_parent(spec: KeyLimitsSpec, parent: ApiKey) -> KeyLimitsSpec:
    """The child's limits, checked against and completed from its parent's."""
    if parent.parent_code is not None or not ROLES[parent.role].may_create_keys:
        raise PermissionDenied(f"Key {parent.code} may not create child keys.")
    if RANK[spec.role] > RANK[parent.role]:
        raise PermissionDenied(f"A child key cannot have role '{spec.role}' above '{parent.role}'.")
    quota = spec.month_quota
    if parent.month_quota is not None:
        if quota is not None and quota > parent.month_quota:
            raise PermissionDenied("A child key's month_quota cannot exceed its parent's.")
        quota = parent.month_quota if quota is None else quota
    return KeyLimitsSpec(
        role=spec.role,
        qps=_within(spec.qps, parent.qps, "qps"),
        concurrency=_within(spec.concurrency, parent.concurrency, "concurrency"),
        month_quota=quota,
    )


async def create_key(
    store: Store, name: str, spec: KeyLimitsSpec, parent: ApiKey | None = None
) -> tuple[str, ApiKey]:
    check_spec(spec)
    if not name.strip():
        raise InvalidRequest("A key needs a name.", param="name")
    if parent is not None:
        spec = within_parent(spec, parent)
    secret, row = make_key(
        name=name,
        role=spec.role,
        parent_code=parent.code if parent else None,
        qps=spec.qps,
        concurrency=spec.concurrency,
        month_quota=spec.month_quota,
    )
    if parent is not None:
        row = replace(row, owner=parent.owner)
    await store.insert_apikey(row)
    return secret, row


async def get_key(store: Store, code: str) -> ApiKey:
    key = await store.apikey_by_code(code)
    if key is None:
        raise NotFound(f"No API key '{code}'.", code="apikey_not_found")
    return key


async def children(store: Store, parent_code: str) -> list[ApiKey]:
    return [k for k in await store.list_apikeys() if k.parent_code == parent_code]


async def update_key(
    store: Store,
    key: ApiKey,
    *,
    name: str | None,
    spec: KeyLimitsSpec | None,
    status: Status | None,
) -> ApiKey:
    """Apply changes; a child's new limits are checked against its parent's."""
    changed = key
    if name is not None:
        if not name.strip():
            raise InvalidRequest("A key needs a name.", param="name")
        changed = replace(changed, name=name)
    if spec is not None:
        check_spec(spec)
        if key.parent_code is not None:
            spec = within_parent(spec, await get_key(store, key.parent_code))
        changed = replace(
            changed,
            role=spec.role,
            qps=spec.qps,
            concurrency=spec.concurrency,
            month_quota=spec.month_quota,
        )
    if status is not None:
        changed = replace(changed, status=status)
    await store.update_apikey(changed)
    return changed


async def reset_key(store: Store, key: ApiKey) -> tuple[str, ApiKey]:
    """A new secret for the same code; the old secret stops working."""
    secret, changed = with_new_secret(key)
    await store.update_apikey(changed)
    return secret, changed
