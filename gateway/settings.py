"""Settings: YAML file, then `BELLA_<SECTION>_<KEY>` environment overrides, else defaults.

With no file and no environment the gateway runs embedded: SQLite under `server.data_dir`,
no Redis, in-process limits and slots.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    data_dir: str = "data"
    max_body_bytes: int = 25 * 1024 * 1024
    public_url: str = ""
    shutdown_timeout_s: float = 30.0  # SIGTERM: how long in-flight requests may still run


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = ""  # empty: sqlite under server.data_dir


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str = ""  # empty: no Redis, everything in-process
    timeout_s: float = 1.0  # socket connect/read timeout of the shared client


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    connect_timeout_s: float = 10.0
    pool_limit: int = 1000
    pool_limit_per_host: int = 0
    max_attempts: int = 3
    # Channel health (see docs/routing.md): cooldowns after a 429, an unreachable upstream,
    # or an error rate of at least `error_rate` over `error_min_requests` in `error_window_s`.
    cooldown_s: float = 30.0
    unreachable_cooldown_s: float = 10.0
    error_window_s: float = 60.0
    error_min_requests: int = 10
    error_rate: float = 0.3


@dataclass(frozen=True, slots=True)
class LimitsSettings:
    redis_failure: str = "open"  # open: per-process slots while Redis is down; closed: 503
    lease_ttl_s: float = 30.0  # a slot lease's lifetime; renewed every third of it
    redis_retry_s: float = 1.0  # after a Redis failure, how long to wait before trying again

    def __post_init__(self) -> None:
        if self.redis_failure not in ("open", "closed"):
            raise SettingsError("limits.redis_failure: must be open or closed")
        if self.lease_ttl_s <= 0:
            raise SettingsError("limits.lease_ttl_s: must be > 0")


@dataclass(frozen=True, slots=True)
class QueueSettings:
    default_wait_s: float = 10.0  # max wait when the request sends no X-Bella-Max-Wait
    max_wait_s: float = 120.0  # cap on X-Bella-Max-Wait
    depth: int = 1000  # waiting requests per model and process; beyond it 429 at once
    poll_s: float = 0.5  # re-poll of the queue head (lost wake-ups, expired leases)


@dataclass(frozen=True, slots=True)
class UsageSettings:
    flush_interval_s: float = 1.0
    batch_size: int = 500


@dataclass(frozen=True, slots=True)
class SecretsSettings:
    master_key: str = ""


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    # Where `--workers N` keeps the per-process metric files (default: <data_dir>/metrics);
    # set for the workers by their supervisor, empty in a single process.
    multiproc_dir: str = ""
    sample_interval_s: float = 1.0  # with workers: how often each samples its live gauges


@dataclass(frozen=True, slots=True)
class LogsSettings:
    requests: str = "stdout"  # one JSON line per request: stdout, off, or a file path


@dataclass(frozen=True, slots=True)
class LoginSettings:
    # Console login (docs/console.md). Sessions live in Redis when `redis.url` is set, else in
    # an encrypted cookie; either ends after `idle_s` without a request or `max_age_s` in all.
    idle_s: float = 1800.0
    max_age_s: float = 12 * 3600.0
    secure_cookie: bool = False  # behind HTTPS: the cookie is sent over HTTPS only
    cookie_name: str = "bella_session"
    attempts_per_minute: int = 10  # login attempts per client address and minute
    key_login: bool = True  # log in with a console/all API key (bootstrap)
    secret: str = ""  # Fernet key for the login cookies; empty: derived from the master key
    providers: dict[str, Any] = field(default_factory=dict)  # name -> OAuth/OIDC/CAS settings

    def __post_init__(self) -> None:
        if self.idle_s <= 0 or self.max_age_s <= 0:
            raise SettingsError("login.idle_s and login.max_age_s: must be > 0")
        if self.attempts_per_minute < 1:
            raise SettingsError("login.attempts_per_minute: must be ≥ 1")
        if not isinstance(self.providers, dict):
            raise SettingsError("login.providers: must be a mapping of name to provider")


@dataclass(frozen=True, slots=True)
class FilesSettings:
    # Stored files (generated images) served at /files/{id} by signed URL (docs/files.md).
    backend: str = "local"  # local: a directory; s3: an S3-compatible bucket (the `s3` extra)
    dir: str = ""  # local: empty means <server.data_dir>/files
    secret: str = ""  # URL signing key; empty: derived from the master key
    url_ttl_s: float = 3600.0  # how long a signed URL stays valid
    retention_days: int = 7  # files older than this many days are deleted; 0 keeps them
    sweep_interval_s: float = 3600.0
    s3_bucket: str = ""
    s3_prefix: str = ""  # e.g. "bella/": object keys start with it
    s3_endpoint_url: str = ""  # MinIO, Aliyun OSS, …; empty: AWS
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""  # empty: the usual AWS credential chain
    s3_secret_access_key: str = ""
    s3_addressing_style: str = "auto"  # auto | path | virtual

    def __post_init__(self) -> None:
        if self.backend not in ("local", "s3"):
            raise SettingsError("files.backend: must be local or s3")
        if self.backend == "s3" and not self.s3_bucket:
            raise SettingsError("files.s3_bucket: required with files.backend s3")
        if self.url_ttl_s <= 0 or self.sweep_interval_s <= 0 or self.retention_days < 0:
            raise SettingsError("files: url_ttl_s and sweep_interval_s > 0, retention_days ≥ 0")
        if self.s3_addressing_style not in ("auto", "path", "virtual"):
            raise SettingsError("files.s3_addressing_style: must be auto, path or virtual")


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    usage: UsageSettings = field(default_factory=UsageSettings)
    secrets: SecretsSettings = field(default_factory=SecretsSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    logs: LogsSettings = field(default_factory=LogsSettings)
    login: LoginSettings = field(default_factory=LoginSettings)
    files: FilesSettings = field(default_factory=FilesSettings)
    catalog: dict[str, Any] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{Path(self.server.data_dir) / 'bella.db'}"

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")


class SettingsError(ValueError):
    """The configuration file or environment holds something we cannot use."""


def load_settings(path: str | None, environ: Mapping[str, str]) -> Settings:
    """Build settings from `path` (or `BELLA_CONFIG`) and `BELLA_*` variables."""
    path = path or environ.get("BELLA_CONFIG") or None
    raw: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"cannot read config {path}: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise SettingsError(f"config {path}: the top level must be a mapping")
        raw = loaded or {}
    return _build(raw, environ)


def _build(raw: dict[str, Any], environ: Mapping[str, str]) -> Settings:
    sections: dict[str, Any] = {}
    hints = get_type_hints(Settings)
    for f in dataclasses.fields(Settings):
        value = raw.get(f.name, {})
        if f.name == "catalog":
            if not isinstance(value, dict):
                raise SettingsError("catalog: must be a mapping")
            sections[f.name] = value
            continue
        sections[f.name] = _section(f.name, hints[f.name], value, environ)
    unknown = set(raw) - set(sections)
    if unknown:
        raise SettingsError(f"unknown config sections: {', '.join(sorted(unknown))}")
    return Settings(**sections)


def _section(name: str, cls: type[Any], value: Any, environ: Mapping[str, str]) -> Any:
    if not isinstance(value, dict):
        raise SettingsError(f"{name}: must be a mapping")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(value) - known
    if unknown:
        raise SettingsError(f"{name}: unknown keys {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for key in known:
        env = environ.get(f"BELLA_{name.upper()}_{key.upper()}")
        if env is not None:
            kwargs[key] = _coerce(f"{name}.{key}", hints[key], env)
        elif key in value:
            kwargs[key] = _coerce(f"{name}.{key}", hints[key], value[key])
    return cls(**kwargs)


def _coerce(where: str, kind: Any, value: Any) -> Any:
    try:
        if kind is bool:
            return _boolean(value)
        if kind in (int, float):
            if isinstance(value, bool):
                raise ValueError("a boolean is not a number")
            return kind(value)
        if kind is str:
            return "" if value is None else str(value)
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from exc
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")
