"""Rows as the rest of the gateway sees them: frozen, typed, backend-neutral."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Status = Literal["active", "inactive"]
Priority = Literal["high", "normal", "low"]
Visibility = Literal["public", "private"]
ReportGroup = Literal["apikey_code", "model", "channel_code", "day"]


@dataclass(frozen=True, slots=True)
class Category:
    code: str  # a path such as "text/chat"
    name: str = ""
    status: Status = "active"


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str  # "/v1/chat/completions"
    kind: str  # chat, embedding, speech, transcription, asr-flash, asr-stream, realtime, ...
    category: str = ""
    unit: str = ""  # pricing unit, e.g. "1k_tokens"
    status: Status = "active"


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    endpoints: tuple[str, ...] = ()
    features: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    linked_to: str | None = None
    visibility: Visibility = "public"
    owner: str = ""
    status: Status = "active"


@dataclass(frozen=True, slots=True)
class ChannelRow:
    code: str
    protocol: str
    url: str
    model: str | None = None  # a channel serves a model, or an endpoint with no model
    endpoint: str | None = None
    credentials: dict[str, str] = field(default_factory=dict)  # plaintext in memory only
    deploy_name: str = ""
    weight: int = 1
    priority: Priority = "normal"
    max_concurrency: int = 0  # 0 = unlimited
    timeout_s: float = 600.0
    price: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    status: Status = "active"
    visibility: Visibility = "public"
    owner: str = ""


@dataclass(frozen=True, slots=True)
class ApiKey:
    code: str  # "ak-…", used everywhere a key is named
    sha256: str  # hex digest of the secret; the secret itself is never stored
    mask: str  # "sk-ab****wxyz"
    name: str = ""
    role: str = "low"
    parent_code: str | None = None
    owner: str = ""
    status: Status = "active"
    qps: int = 0  # 0 = unlimited
    concurrency: int = 0
    month_quota: Decimal | None = None
    created_at: float = 0.0


# Not frozen: built per request (docs/architecture.md, 'Per-request records').
@dataclass(slots=True)
class UsageRecord:
    request_id: str
    created_at: float  # unix seconds
    apikey_code: str
    endpoint: str
    model: str
    channel_code: str
    status: int  # HTTP status the client saw (or would have seen)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: Decimal = Decimal(0)
    estimated: bool = False
    latency_ms: int = 0
    ttft_ms: int | None = None
    error_code: str = ""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str
    entity: str
    entity_id: str
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    address: str = ""
    created_at: float = 0.0
    id: int = 0  # assigned by the store; entries are listed newest (highest id) first


@dataclass(frozen=True, slots=True)
class User:
    """A person who logs in to the console; only `role == "admin"` may use it."""

    code: str  # "u-…"
    email: str  # lower case, unique
    name: str = ""
    role: str = "none"  # "admin" or "none"
    status: Status = "active"
    provider: str = ""  # the login provider they last came through
    subject: str = ""  # their id at that provider
    created_at: float = 0.0
    last_login_at: float = 0.0
    sessions_valid_after: float = 0.0  # sessions begun before this are over (logout everywhere)


@dataclass(frozen=True, slots=True)
class UsageTotal:
    group: str  # a key code, model, channel code or UTC day (YYYY-MM-DD)
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
