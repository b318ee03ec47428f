"""Settings, read once at the top (``bootstrap``) and passed down as values.

Sources, highest priority first: keyword arguments, ``SPINE_*`` environment variables,
``spine.toml`` in the working directory (or the file named by ``SPINE_CONFIG``), defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from spine.core.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///spine.db"


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
    pool_size: int = Field(default=5, ge=1, description="Connections kept per process.")
    max_overflow: int = Field(default=10, ge=0, description="Extra connections allowed.")
    connect_timeout_seconds: int = Field(
        default=10, ge=1, description="How long to wait for a database server to answer."
    )
    log_level: str = Field(default="WARNING", description="Python logging level name.")
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
    alerting_allow_private_urls: bool = Field(
        default=False,
        description="Allow alert channels to send to loopback, link-local or private hosts.",
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
    secret_key: str | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, newest first, for encrypted configs.",
    )

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
