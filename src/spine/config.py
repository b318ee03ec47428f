"""Settings, read once at the top (``bootstrap``) and passed down as values.

Sources, highest priority first: keyword arguments, ``SPINE_*`` environment variables,
``spine.toml`` in the working directory (or the file named by ``SPINE_CONFIG``), defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from spine.core.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///spine.db"
# Where the local key lived before it moved beside the database (relative to the cwd).
LEGACY_SECRET_KEY_FILE = ".spine/secret.key"


def sqlite_file(database_url: str) -> Path | None:
    """The absolute path of a SQLite URL's database file; ``None`` if it is in memory.

    ``sqlite:///relative.db`` is relative to the working directory, ``sqlite:////abs.db``
    absolute (SQLAlchemy's reading); parsed here without importing SQLAlchemy.
    """
    rest = database_url.partition("://")[2]
    name, _, query = rest.removeprefix("/").partition("?")
    if name in ("", ":memory:") or "mode=memory" in query.split("&"):
        return None
    name = name.removeprefix("file:")  # a URI filename (uri=true)
    return Path(unquote(name)).expanduser().absolute()


class Settings(BaseSettings):
    """Everything spine can be told from outside its code."""

    model_config = SettingsConfigDict(env_prefix="SPINE_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of spine's own database.",
    )
    app: str | None = Field(
        default=None,
        description="Module to import so that its workflows and pipelines register.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=30_000,
        ge=0,
        description="How long a SQLite connection waits for a lock before retrying.",
    )
    sqlite_checkpoint_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often a long-running process truncates SQLite's WAL file (a "
        "checkpoint that never waits for readers); 0 never does.",
    )
    postgres_lock_timeout_ms: int = Field(
        default=10_000,
        ge=0,
        description="PostgreSQL lock_timeout of spine's sessions: a statement waiting this "
        "long for a lock fails and is retried instead of queueing for ever; 0 waits for ever.",
    )
    postgres_idle_in_transaction_timeout_ms: int = Field(
        default=60_000,
        ge=0,
        description="PostgreSQL idle_in_transaction_session_timeout of spine's sessions: "
        "the server ends a session frozen inside a transaction after this long, releasing "
        "its locks; 0 never does.",
    )
    workspace: str = Field(
        default="default",
        description="The workspace the CLI acts in: its name, ORG/NAME, or its id.",
    )
    api_auth_failures_per_minute: int = Field(
        default=20,
        ge=1,
        description="Failed API authentications one client address may make in a minute "
        "before getting 429 (per API process).",
    )
    api_key_cache_seconds: float = Field(
        default=0.0,
        ge=0,
        le=300,
        description="How long an API process trusts a checked key without reading its row "
        "again; 0 reads it on every request (a revoked key is refused at once). More saves "
        "a query per request, and a revocation made elsewhere takes that long to apply.",
    )
    api_max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="The largest API request body; larger ones get 413 before being read.",
    )
    web_session_seconds: int = Field(
        default=43_200,
        ge=60,
        description="How long a dashboard login lasts (its signed cookie expires then).",
    )
    web_secret: str | None = Field(
        default=None,
        description="The key that signs dashboard session cookies; every API process of "
        "one deployment needs the same. Unset: derived from the secret key when there is "
        "one, else random per process (logins end when the process does).",
    )
    pool_size: int = Field(default=5, ge=1, description="Connections kept per process.")
    max_overflow: int = Field(default=10, ge=0, description="Extra connections allowed.")
    connect_timeout_seconds: int = Field(
        default=10, ge=1, description="How long to wait for a database server to answer."
    )
    log_level: str = Field(default="WARNING", description="Python logging level name.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="How log lines look: text, or one JSON object per line (run_id, step).",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        """Refuse a level name logging does not know, before it fails at start-up."""
        names = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        if value.strip().upper() not in names:
            raise ValueError(f"expected one of {', '.join(names)}")
        return value.strip().upper()

    worker_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a worker's claim on a run lasts without renewal; a dead "
        "worker's runs are resumed by others after this long.",
    )
    worker_concurrency: int = Field(default=4, ge=1, description="Runs a worker executes at once.")
    worker_poll_seconds: float = Field(
        default=1.0, gt=0, description="Longest sleep of an idle worker between looks for runs."
    )
    worker_stop_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a step attempt in progress may go on after a worker (or "
        "`spine run`) is told to stop; then it is recorded interrupted and its run handed back.",
    )
    alerting_allow_private_urls: bool = Field(
        default=False,
        description="Allow alert channels to send to loopback, link-local or private hosts.",
    )
    alerting_max_attempts: int = Field(
        default=5, ge=1, description="Attempts per alert delivery before the dead-letter queue."
    )
    alerting_backoff_base_seconds: float = Field(
        default=30.0, gt=0, description="Wait after a delivery's first failure; doubles after each."
    )
    alerting_backoff_max_seconds: float = Field(
        default=3600.0, gt=0, description="Longest wait between two attempts of a delivery."
    )
    alerting_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long a delivery worker's claim on a delivery lasts; a dead worker's "
        "delivery is retried after this long (keep it above the send timeout).",
    )
    alerting_breaker_threshold: int = Field(
        default=5, ge=1, description="Consecutive failures that open a channel's circuit breaker."
    )
    alerting_breaker_cooldown_seconds: float = Field(
        default=300.0, gt=0, description="How long an open breaker waits before one probe."
    )
    alerting_send_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Network timeout of one delivery attempt."
    )
    alerting_delivery_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Deliveries a delivery worker sends at once (`alerts deliver --concurrency`).",
    )
    alerting_channel_concurrency: int = Field(
        default=2,
        ge=1,
        description="Deliveries of one channel in flight at once, over all workers: a "
        "channel whose endpoint hangs holds at most this many of the workers' threads.",
    )
    sources_stale_after_hours: float = Field(
        default=48.0,
        gt=0,
        description="A source not fetched successfully (SUCCESS or UNCHANGED) for this long "
        "is stale: the dashboard's overview lists it under what is late.",
    )
    sources_allow_private_urls: bool = Field(
        default=False,
        description="Allow HTTP, S3 and SFTP sources to reach loopback, link-local or "
        "private hosts.",
    )
    sources_cache_dir: str = Field(
        default=".spine/cache",
        description="Directory of cached source content too large to keep in the database.",
    )
    sources_cache_max_bytes: int = Field(
        default=1024**3,
        ge=0,
        description="Size budget of the source content cache; least recently used "
        "entries are evicted beyond it.",
    )
    sources_cache_inline_max_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        description="Cached content up to this size is kept inline in the database.",
    )
    sources_max_bytes: int = Field(
        default=1024**3,
        ge=1,
        description="Default limit on the size of one fetched response or object.",
    )
    sources_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Default timeout of HTTP, S3 and SFTP fetches."
    )
    scheduler_lock_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a scheduler's lock on a schedule it is firing lasts; a dead "
        "scheduler's schedules are taken over by others after this long.",
    )
    scheduler_max_sleep_seconds: float = Field(
        default=1.0,
        gt=0,
        le=2.0,
        description="Longest sleep of the scheduler between looks at the database: how soon "
        "a schedule added or changed by another process is noticed.",
    )
    scheduler_batch_size: int = Field(
        default=200, ge=1, description="Schedules the scheduler fires per transaction."
    )
    scheduler_catchup_limit: int = Field(
        default=100,
        ge=1,
        description="Most missed fires run for one schedule with catchup=all after downtime.",
    )
    quality_statement_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest a check's statement may run on a user's database before it is "
        "cancelled and the check fails with a timeout.",
    )
    quality_sample_rows: int = Field(
        default=10,
        ge=0,
        description="Offending rows kept with a failed row-level check (0: none).",
    )
    quality_auto_resolve_passes: int = Field(
        default=2,
        ge=1,
        description="Consecutive passing runs that resolve a check's open incident.",
    )
    quality_flap_window_minutes: float = Field(
        default=60.0,
        ge=0,
        description="A check failing again within this many minutes of its incident's "
        "resolution reopens that incident instead of opening (and notifying) a new one.",
    )
    quality_job_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a worker holds a claimed check job; a dead worker's job is "
        "claimed again after this long. Longer than the statement timeout.",
    )
    quality_job_max_attempts: int = Field(
        default=3,
        ge=1,
        description="Claims of one check job before it is recorded failed (workers died).",
    )
    quality_history_points: int = Field(
        default=90,
        ge=1,
        description="Most past results of a check its anomaly rule is trained on.",
    )
    automation_max_depth: int = Field(
        default=5,
        ge=0,
        description="Deepest cascade of automation: a change made by an action of a change "
        "this many actions deep is recorded, not acted on.",
    )
    automation_poll_seconds: float = Field(
        default=0.25,
        gt=0,
        description="How often an idle dispatcher looks for changes (PostgreSQL also "
        "wakes it with NOTIFY).",
    )
    automation_batch_size: int = Field(
        default=500,
        ge=1,
        description="Most changes the dispatcher reads at once.",
    )
    automation_notification_attempts: int = Field(
        default=5,
        ge=1,
        description="Tries of one notification delivery before it is recorded failed.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, newest first, for encrypted configs.",
    )
    secret_key_file: str | None = Field(
        default=None,
        description="With SQLite and no secret_key: a Fernet key kept in this file, "
        "created on first use (mode 0600); by default beside the database file, "
        "<database file>.secret.key.",
    )

    def local_secret_key_path(self) -> Path | None:
        """Where the SQLite set-up keeps its local key; ``None`` on other databases.

        ``secret_key_file`` if set, else beside the database file (``<file>.secret.key``).
        An in-memory database has no file to sit beside: its key is the legacy
        ``.spine/secret.key`` of the working directory.
        """
        if not self.database_url.startswith("sqlite"):
            return None
        if self.secret_key_file:
            return Path(self.secret_key_file).expanduser()
        database = sqlite_file(self.database_url)
        if database is None:
            return Path(LEGACY_SECRET_KEY_FILE)
        return database.with_name(database.name + ".secret.key")

    def effective_secret_key(self) -> str | None:
        """``secret_key``, else (SQLite only) the local key file, created if absent.

        A shared PostgreSQL database needs the same key in every process, so there the
        key must be configured; a key file made by one machine would not open on another.
        A key left by an earlier version in the working directory (``.spine/secret.key``)
        is adopted when the file beside the database is first made, and otherwise kept
        after it to open what it sealed (see :func:`spine.core.crypto.local_key`).
        """
        if self.secret_key:
            return self.secret_key
        path = self.local_secret_key_path()
        if path is None:
            return None
        from spine.core.crypto import local_key

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None  # a read-only place: literal secrets are refused, as without a key
        legacy = None if self.secret_key_file else Path(LEGACY_SECRET_KEY_FILE)
        return local_key(path, legacy=legacy)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Add ``spine.toml`` below the environment.

        Raises:
            ConfigurationError: If ``SPINE_CONFIG`` names a file that does not exist.
        """
        named = os.environ.get("SPINE_CONFIG")
        toml_file = Path(named or "spine.toml")
        # spine.toml is optional; a file named on purpose is not: a typo must not fall
        # back to the defaults (and to another database) in silence.
        if named and not toml_file.is_file():
            raise ConfigurationError(f"SPINE_CONFIG names {named!r}, which is not a file")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )


def load_settings(**overrides: Any) -> Settings:
    """Return settings from the environment and ``spine.toml``, with ``overrides`` on top.

    ``None`` overrides are dropped, so CLI options that were not given do not mask the
    environment.

    Raises:
        ConfigurationError: If a value is invalid or the TOML file cannot be parsed.
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except tomllib.TOMLDecodeError as error:
        name = os.environ.get("SPINE_CONFIG") or "spine.toml"
        raise ConfigurationError(f"cannot parse {name}: {error}") from None
    except ValidationError as error:
        # Name the setting and the rule, never the value: it may be a secret.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in error.errors()
        )
        raise ConfigurationError(f"invalid setting {problems}") from None
