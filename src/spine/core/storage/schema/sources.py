"""Spec 000, ``05_sources.sql``: sources, fetches, content cache, database connections."""

from __future__ import annotations

import sqlalchemy as sa

from spine.core.storage.schema._base import (
    Tier,
    counter,
    flag,
    json_col,
    one_of,
    table,
    ts,
    ulid_pk,
    workspace_ref,
)

SPEC = "000"

SOURCE_TYPES = ("file", "http", "database", "s3", "sftp")
FETCH_STATUSES = ("SUCCESS", "FAILED", "NOT_FOUND", "UNCHANGED")

core_sources = table(
    "core_sources",
    ulid_pk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("source_type", sa.String(20), nullable=False),
    json_col("config_json", nullable=False),
    sa.Column("domain", sa.String(200)),
    flag("enabled", True),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.Column("created_by", sa.String(200)),
    workspace_ref(),
    sa.UniqueConstraint("workspace_id", "name", name="uq_sources_workspace_name"),
    one_of("source_type", SOURCE_TYPES, "source_type"),
    sa.Index("idx_sources_type", "source_type"),
    sa.Index("idx_sources_domain", "domain"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

core_source_fetches = table(
    "core_source_fetches",
    ulid_pk(),
    sa.Column("source_id", sa.String(26), sa.ForeignKey("core_sources.id", ondelete="SET NULL")),
    sa.Column("source_name", sa.String(200), nullable=False),
    sa.Column("source_type", sa.String(20), nullable=False),
    sa.Column("source_locator", sa.Text),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("record_count", sa.BigInteger),
    sa.Column("byte_count", sa.BigInteger),
    sa.Column("content_hash", sa.String(128)),
    sa.Column("etag", sa.String(500)),
    sa.Column("last_modified", sa.String(100)),
    ts("started_at", nullable=False),
    ts("completed_at"),
    sa.Column("duration_ms", sa.BigInteger),
    sa.Column("error", sa.Text),
    sa.Column("error_category", sa.String(50)),
    counter("retry_count"),
    sa.Column(
        "execution_id", sa.String(26), sa.ForeignKey("core_executions.id", ondelete="SET NULL")
    ),
    sa.Column(
        "run_id", sa.String(26), sa.ForeignKey("core_workflow_runs.run_id", ondelete="SET NULL")
    ),
    sa.Column("capture_id", sa.String(100)),
    json_col("metadata_json"),
    one_of("status", FETCH_STATUSES, "status"),
    sa.Index("idx_source_fetches_source", "source_id", "started_at"),
    sa.Index("idx_source_fetches_name", "source_name", "started_at"),
    sa.Index("idx_source_fetches_status", "status"),
    sa.Index("idx_source_fetches_started", "started_at"),
    sa.Index("idx_source_fetches_run", "run_id"),
    sa.Index(
        "idx_source_fetches_failed",
        "status",
        "started_at",
        sqlite_where=sa.text("status = 'FAILED'"),
        postgresql_where=sa.text("status = 'FAILED'"),
    ),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

core_source_cache = table(
    "core_source_cache",
    sa.Column("cache_key", sa.String(128), primary_key=True),
    sa.Column("source_id", sa.String(26), sa.ForeignKey("core_sources.id", ondelete="CASCADE")),
    sa.Column("source_type", sa.String(20), nullable=False),
    sa.Column("source_locator", sa.Text),
    sa.Column("content_hash", sa.String(128)),
    sa.Column("content_size", sa.BigInteger),
    sa.Column("content_path", sa.Text),
    sa.Column("content_blob", sa.LargeBinary),
    ts("fetched_at", nullable=False),
    ts("expires_at"),
    sa.Column("etag", sa.String(500)),
    sa.Column("last_modified", sa.String(100)),
    json_col("metadata_json"),
    ts("last_accessed_at", nullable=False),
    sa.Index("idx_source_cache_source", "source_id"),
    sa.Index("idx_source_cache_accessed", "last_accessed_at"),
    sa.Index("idx_source_cache_expires", "expires_at"),
    tier=Tier.ADVANCED,
    spec=SPEC,
)

CONNECTION_DIALECTS = ("sqlite", "postgresql", "mysql", "duckdb", "db2")

core_database_connections = table(
    "core_database_connections",
    ulid_pk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("dialect", sa.String(20), nullable=False),
    sa.Column("host", sa.String(255)),
    sa.Column("port", sa.Integer),
    sa.Column("database", sa.String(500), nullable=False),
    sa.Column("username", sa.String(200)),
    sa.Column("password_ref", sa.String(500)),
    counter("pool_size", 5),
    counter("max_overflow", 10),
    counter("pool_timeout", 30),
    flag("enabled", True),
    ts("last_connected_at"),
    sa.Column("last_error", sa.Text),
    ts("last_error_at"),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.Column("created_by", sa.String(200)),
    workspace_ref(),
    # Added by spine: whether data-quality checks may keep samples of failed rows read
    # through this connection (off for tables with personal data).
    flag("allow_samples", True),
    sa.UniqueConstraint("workspace_id", "name", name="uq_database_connections_workspace_name"),
    one_of("dialect", CONNECTION_DIALECTS, "dialect"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)
