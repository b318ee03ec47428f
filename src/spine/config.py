"""Settings, read once at the top (``bootstrap``) and passed down as values.

Sources, highest priority first: keyword arguments, ``SPINE_*`` environment variables,
``spine.toml`` in the working directory (or the file named by ``SPINE_CONFIG``), defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

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
    alerting_allow_private_urls: bool = Field(
        default=False,
        description="Allow alert channels to send to loopback, link-local or private hosts.",
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
        """Add ``spine.toml`` below the environment."""
        toml_file = Path(os.environ.get("SPINE_CONFIG", "spine.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )


def load_settings(**overrides: Any) -> Settings:
    """Return settings from the environment and ``spine.toml``, with ``overrides`` on top.

    ``None`` overrides are dropped, so CLI options that were not given do not mask the
    environment.
    """
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
