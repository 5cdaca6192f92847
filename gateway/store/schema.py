"""The schema as data: ordered migrations, written once and rendered per SQL dialect.

Statements use `{type}` tokens so SQLite and MySQL/MariaDB get the same tables:

- money is `DECIMAL(20,8)` in MySQL and `TEXT` in SQLite (SQLite has no exact decimal type;
  its numeric affinity would turn money into a float). The store binds money as text.
- timestamps are unix seconds in a double, exactly as the records hold them.
- MySQL tables use InnoDB, utf8mb4 and the binary collation, so names compare exactly as in
  SQLite (`GPT-4o` and `gpt-4o` are two models on both backends).

A released migration is never edited; a change is a new version appended to `_MIGRATIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass

DIALECTS = ("sqlite", "mysql")

_TYPES: dict[str, dict[str, str]] = {
    "sqlite": {
        "key": "TEXT",
        "str": "TEXT",
        "text": "TEXT",
        "money": "TEXT",
        "time": "REAL",
        "int": "INTEGER",
        "bigint": "INTEGER",
        "bool": "INTEGER",
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "table": "",
    },
    "mysql": {
        "key": "VARCHAR(191)",
        "str": "VARCHAR(255)",
        "text": "TEXT",
        "money": "DECIMAL(20,8)",
        "time": "DOUBLE",
        "int": "INT",
        "bigint": "BIGINT",
        "bool": "TINYINT(1)",
        "serial": "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
        "table": " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    },
}


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version {int} NOT NULL PRIMARY KEY,
    description {str} NOT NULL,
    applied_at {time} NOT NULL
){table}"""

_V1_CATALOG = (
    """CREATE TABLE category (
    code {key} NOT NULL PRIMARY KEY,
    name {str} NOT NULL
){table}""",
    """CREATE TABLE endpoint (
    path {key} NOT NULL PRIMARY KEY,
    kind {str} NOT NULL,
    category {str} NOT NULL,
    unit {str} NOT NULL,
    status {str} NOT NULL
){table}""",
    """CREATE TABLE model (
    name {key} NOT NULL PRIMARY KEY,
    endpoints {text} NOT NULL,
    features {text} NOT NULL,
    properties {text} NOT NULL,
    linked_to {str} NULL,
    visibility {str} NOT NULL,
    owner {str} NOT NULL,
    status {str} NOT NULL
){table}""",
    """CREATE TABLE channel (
    code {key} NOT NULL PRIMARY KEY,
    model {str} NULL,
    endpoint {str} NULL,
    protocol {str} NOT NULL,
    url {text} NOT NULL,
    credentials {text} NOT NULL,
    deploy_name {str} NOT NULL,
    weight {int} NOT NULL,
    priority {str} NOT NULL,
    max_concurrency {int} NOT NULL,
    timeout_s {time} NOT NULL,
    price {text} NOT NULL,
    options {text} NOT NULL,
    status {str} NOT NULL,
    visibility {str} NOT NULL,
    owner {str} NOT NULL,
    updated_at {time} NOT NULL
){table}""",
    "CREATE INDEX ix_channel_model ON channel (model)",
)

_V1_KEYS = (
    """CREATE TABLE apikey (
    code {key} NOT NULL PRIMARY KEY,
    sha256 CHAR(64) NOT NULL UNIQUE,
    mask {str} NOT NULL,
    name {str} NOT NULL,
    role {str} NOT NULL,
    parent_code {key} NULL,
    owner {str} NOT NULL,
    status {str} NOT NULL,
    qps {int} NOT NULL,
    concurrency {int} NOT NULL,
    month_quota {money} NULL,
    created_at {time} NOT NULL
){table}""",
    "CREATE INDEX ix_apikey_parent ON apikey (parent_code)",
    """CREATE TABLE apikey_month_cost (
    apikey_code {key} NOT NULL,
    month CHAR(7) NOT NULL,
    cost {money} NOT NULL,
    PRIMARY KEY (apikey_code, month)
){table}""",
)

_V1_LOGS = (
    """CREATE TABLE usage_log (
    id {serial},
    request_id {key} NOT NULL UNIQUE,
    created_at {time} NOT NULL,
    apikey_code {key} NOT NULL,
    endpoint {str} NOT NULL,
    model {str} NOT NULL,
    channel_code {str} NOT NULL,
    status {int} NOT NULL,
    prompt_tokens {bigint} NOT NULL,
    completion_tokens {bigint} NOT NULL,
    cached_tokens {bigint} NOT NULL,
    cost {money} NOT NULL,
    estimated {bool} NOT NULL,
    latency_ms {bigint} NOT NULL,
    ttft_ms {bigint} NULL,
    error_code {str} NOT NULL
){table}""",
    "CREATE INDEX ix_usage_key_time ON usage_log (apikey_code, created_at)",
    "CREATE INDEX ix_usage_time ON usage_log (created_at)",
    """CREATE TABLE audit_log (
    id {serial},
    created_at {time} NOT NULL,
    actor {str} NOT NULL,
    entity {str} NOT NULL,
    entity_id {str} NOT NULL,
    action {str} NOT NULL,
    before_json {text} NULL,
    after_json {text} NULL,
    address {str} NOT NULL
){table}""",
    "CREATE INDEX ix_audit_time ON audit_log (created_at)",
)

_V2_CONSOLE = (
    "ALTER TABLE category ADD COLUMN status {str} NOT NULL DEFAULT 'active'",
    """CREATE TABLE console_user (
    code {key} NOT NULL PRIMARY KEY,
    email {key} NOT NULL UNIQUE,
    name {str} NOT NULL,
    role {str} NOT NULL,
    status {str} NOT NULL,
    provider {str} NOT NULL,
    subject {str} NOT NULL,
    created_at {time} NOT NULL,
    last_login_at {time} NOT NULL,
    sessions_valid_after {time} NOT NULL
){table}""",
    "CREATE INDEX ix_audit_entity ON audit_log (entity, created_at)",
    "CREATE INDEX ix_audit_actor ON audit_log (actor, created_at)",
)

_MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "catalog, api keys, usage and audit", _V1_CATALOG + _V1_KEYS + _V1_LOGS),
    (2, "console: category status, users, audit indexes", _V2_CONSOLE),
)

# The version this code needs; readiness and `serve` against MySQL compare the database to it.
LATEST_VERSION = _MIGRATIONS[-1][0]


def _types(dialect: str) -> dict[str, str]:
    try:
        return _TYPES[dialect]
    except KeyError:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {DIALECTS}") from None


def migrations_table(dialect: str) -> str:
    """DDL of the bookkeeping table; the store creates it before reading applied versions."""
    return _MIGRATIONS_TABLE.format_map(_types(dialect))


def migrations(dialect: str) -> tuple[Migration, ...]:
    """Every migration for `dialect`, in ascending version order."""
    types = _types(dialect)
    return tuple(
        Migration(version, description, tuple(s.format_map(types) for s in statements))
        for version, description, statements in _MIGRATIONS
    )
