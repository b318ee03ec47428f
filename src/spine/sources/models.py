"""The records of the sources part: sources, connections, fetch results, cache entries."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

#: The setting (``spine.config.Settings`` field) that lets sources reach private
#: addresses; named by every refusal (:func:`spine.core.net.refusal_message`).
ALLOW_PRIVATE_SETTING = "sources_allow_private_urls"


class SourceType(StrEnum):
    """The kinds of source (``core_sources.source_type``)."""

    FILE = "file"
    HTTP = "http"
    DATABASE = "database"
    S3 = "s3"
    SFTP = "sftp"


class FetchStatus(StrEnum):
    """The outcome of one fetch (``core_source_fetches.status``)."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    NOT_FOUND = "NOT_FOUND"
    UNCHANGED = "UNCHANGED"


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """A registered source (one ``core_sources`` row)."""

    id: str
    name: str
    source_type: SourceType
    config: dict[str, Any]
    domain: str | None = None
    enabled: bool = True
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    #: The workspace that owns the source (the default one for rows made before 0006).
    workspace_id: uuid.UUID | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row's columns, for ``--json`` (the config with credentials masked)."""
        from spine.core.secrets import redact

        return {
            "id": self.id,
            "name": self.name,
            "source_type": self.source_type.value,
            "config_json": redact(self.config),
            "domain": self.domain,
            "enabled": self.enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": self.created_by,
            "workspace_id": None if self.workspace_id is None else str(self.workspace_id),
        }

    def audited(self) -> dict[str, Any]:
        """The fields an audit entry compares (the config as stored: credentials are refs)."""
        return {
            "name": self.name,
            "source_type": self.source_type.value,
            "config_json": self.config,
            "domain": self.domain,
            "enabled": self.enabled,
        }


#: The fields of a connection an update may set (``name`` is fixed: sources name it).
CONNECTION_SETTINGS = (
    "dialect",
    "host",
    "port",
    "database",
    "username",
    "password_ref",
    "pool_size",
    "max_overflow",
    "pool_timeout",
    "enabled",
    "allow_samples",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    """A registered database connection (``core_database_connections``).

    ``password_ref`` names a secret (``env:VAR`` or ``file:PATH``); the password itself is
    never stored.
    """

    id: str
    name: str
    dialect: str
    database: str
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password_ref: str | None = None
    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: int = 30
    enabled: bool = True
    last_connected_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    #: The workspace that owns the connection.
    workspace_id: uuid.UUID | None = None
    #: Whether quality checks may keep samples of failed rows read through it.
    allow_samples: bool = True
    #: Spec 004's ``connections.status`` (its mirror): unknown, healthy, unhealthy, error.
    status: str = "unknown"
    #: Spec 004's ``connections.last_tested_at``: when a test last ran, passed or not.
    last_tested_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row's columns, for ``--json`` (``password_ref`` names a secret, holds none)."""
        values = dataclasses.asdict(self)
        values["workspace_id"] = None if self.workspace_id is None else str(self.workspace_id)
        return values

    def audited(self) -> dict[str, Any]:
        """The fields an audit entry compares (``password_ref`` only as changed)."""
        return {name: getattr(self, name) for name in ("name", *CONNECTION_SETTINGS)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetched:
    """What a fetcher got, before it is recorded.

    ``content`` is the bytes for small content, a path for content on disk (a local file,
    or a download kept in the cache directory), ``None`` when unchanged content was not
    transferred again.
    """

    status: FetchStatus
    locator: str
    record_count: int | None = None
    byte_count: int | None = None
    content_hash: str | None = None
    content: bytes | Path | None = None
    paths: tuple[Path, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    retry_count: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchResult:
    """The result of :func:`spine.sources.fetch`: one ``core_source_fetches`` row and content.

    Attributes:
        status: SUCCESS, FAILED, NOT_FOUND or UNCHANGED.
        content: Bytes (small content), a path (a local file or cached download), or
            ``None`` (a failure, or unchanged content that was not transferred again and
            is not cached).
        paths: Every local file of a file source whose glob matched several.
        capture_id: Names this content: source, params and hash; the same bytes fetched
            again give the same capture id.
    """

    fetch_id: str
    source_name: str
    source_type: SourceType
    status: FetchStatus
    locator: str
    record_count: int | None = None
    byte_count: int | None = None
    content_hash: str | None = None
    content: bytes | Path | None = None
    paths: tuple[Path, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    started_at: datetime
    completed_at: datetime
    duration_ms: int = 0
    error: str | None = None
    error_category: str | None = None
    retry_count: int = 0
    capture_id: str | None = None
    run_id: str | None = None
    execution_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether content is available (SUCCESS or UNCHANGED)."""
        return self.status in (FetchStatus.SUCCESS, FetchStatus.UNCHANGED)

    def to_dict(self) -> dict[str, Any]:
        """The fetch row's columns (spec names), for ``--json`` and step outputs."""
        return {
            "id": self.fetch_id,
            "source_name": self.source_name,
            "source_type": self.source_type.value,
            "source_locator": self.locator,
            "status": self.status.value,
            "record_count": self.record_count,
            "byte_count": self.byte_count,
            "content_hash": self.content_hash,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "error_category": self.error_category,
            "retry_count": self.retry_count,
            "execution_id": self.execution_id,
            "run_id": self.run_id,
            "capture_id": self.capture_id,
            "metadata_json": self.metadata,
            "content_path": str(self.content) if isinstance(self.content, Path) else None,
            "paths": [str(p) for p in self.paths],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    """One ``core_source_cache`` row."""

    cache_key: str
    source_id: str | None
    source_type: str
    source_locator: str | None
    content_hash: str | None
    content_size: int
    content_path: str | None
    content_blob: bytes | None
    fetched_at: datetime
    expires_at: datetime | None
    etag: str | None
    last_modified: str | None
    metadata: dict[str, Any]
    last_accessed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The row's columns, without the blob itself, for ``--json``."""
        return {
            "cache_key": self.cache_key,
            "source_id": self.source_id,
            "source_type": self.source_type,
            "source_locator": self.source_locator,
            "content_hash": self.content_hash,
            "content_size": self.content_size,
            "content_path": self.content_path,
            "inline": self.content_blob is not None,
            "fetched_at": self.fetched_at,
            "expires_at": self.expires_at,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "metadata_json": self.metadata,
            "last_accessed_at": self.last_accessed_at,
        }
