"""Spec 004: the multi-tenant data-quality service.

PostgreSQL enums of the specification become text columns with CHECK constraints (one
definition for every dialect, and values can be added without ``ALTER TYPE``); ``TEXT[]``
columns become JSON arrays. ``check_results`` and ``audit_log`` are partitioned by month on
PostgreSQL by their migration (``spine db partitions`` adds months); here they are declared
with a plain identity key so that SQLite assigns ids.
"""

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
    uuid_pk,
    workspace_ref,
)

SPEC = "004"

CONNECTION_TYPES = (
    "postgresql",
    "mysql",
    "sqlserver",
    "bigquery",
    "snowflake",
    "redshift",
    "databricks",
    # Added by spine (docs/decisions.md): the embedded engines and DB2, which spine's
    # registered connections (core_database_connections) already reach.
    "sqlite",
    "duckdb",
    "db2",
)
CONNECTION_STATUSES = ("unknown", "healthy", "unhealthy", "error")
CHECK_TARGET_TYPES = ("table", "column")
CHECK_SEVERITIES = ("warning", "error", "fatal")
INCIDENT_STATUSES = ("open", "acknowledged", "resolved")
JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")


def _identity() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.Identity(always=True),
        primary_key=True,
    )


organizations = table(
    "organizations",
    uuid_pk(),
    sa.Column("name", sa.String(255), nullable=False),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.Index("idx_organizations_name", "name", unique=True),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

workspaces = table(
    "workspaces",
    uuid_pk(),
    sa.Column(
        "organization_id",
        sa.Uuid,
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(255), nullable=False),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.UniqueConstraint("organization_id", "name", name="uq_workspaces_org_name"),
    sa.Index("idx_workspaces_org", "organization_id"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

api_keys = table(
    "api_keys",
    uuid_pk(),
    sa.Column(
        "workspace_id", sa.Uuid, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("key_prefix", sa.String(12), nullable=False),
    # SHA-256 of a 256-bit random key, not bcrypt (docs/decisions.md).
    sa.Column("key_hash", sa.String(255), nullable=False),
    json_col("scopes", nullable=False, server_default=sa.text("'[]'")),
    ts("last_used_at"),
    ts("expires_at"),
    ts("created_at", nullable=False),
    # Added by spine (docs/decisions.md): a revoked key stays listed and audited.
    ts("revoked_at"),
    # Added by spine (intermediate_0008): the user a key acts for (``alerts/mine``).
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("core.users.id", ondelete="SET NULL")),
    sa.Index("idx_api_keys_workspace", "workspace_id"),
    sa.Index("idx_api_keys_prefix", "key_prefix"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

connections = table(
    "connections",
    uuid_pk(),
    sa.Column(
        "workspace_id", sa.Uuid, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("config_encrypted", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="unknown"),
    ts("last_tested_at"),
    sa.Column("last_error", sa.Text),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.UniqueConstraint("workspace_id", "name", name="uq_connections_workspace_name"),
    one_of("type", CONNECTION_TYPES, "type"),
    one_of("status", CONNECTION_STATUSES, "status"),
    sa.Index("idx_connections_workspace", "workspace_id"),
    sa.Index("idx_connections_type", "type"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

check_definitions = table(
    "check_definitions",
    uuid_pk(),
    sa.Column(
        "connection_id",
        sa.Uuid,
        sa.ForeignKey("connections.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # Added by spine: a check's name is unique in its workspace (the CLI and the API
    # name checks without their connection), and listings filter on it directly.
    workspace_ref(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("check_type", sa.String(100), nullable=False),
    sa.Column("target_type", sa.String(10), nullable=False),
    sa.Column("target_schema", sa.String(255)),
    sa.Column("target_table", sa.String(255), nullable=False),
    sa.Column("target_column", sa.String(255)),
    json_col("config", nullable=False, server_default=sa.text("'{}'")),
    sa.Column("severity", sa.String(10), nullable=False, server_default="error"),
    flag("enabled", True),
    json_col("tags", nullable=False, server_default=sa.text("'[]'")),
    sa.Column("data_product_id", sa.String(255)),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.UniqueConstraint("connection_id", "name", name="uq_check_definitions_connection_name"),
    sa.UniqueConstraint("workspace_id", "name", name="uq_check_definitions_workspace_name"),
    one_of("target_type", CHECK_TARGET_TYPES, "target_type"),
    one_of("severity", CHECK_SEVERITIES, "severity"),
    sa.Index("idx_checks_connection", "connection_id"),
    sa.Index("idx_checks_target", "target_schema", "target_table"),
    sa.Index("idx_checks_type", "check_type"),
    sa.Index(
        "idx_checks_enabled",
        "enabled",
        sqlite_where=sa.text("enabled = 1"),
        postgresql_where=sa.text("enabled = true"),
    ),
    sa.Index(
        "idx_checks_data_product",
        "data_product_id",
        sqlite_where=sa.text("data_product_id IS NOT NULL"),
        postgresql_where=sa.text("data_product_id IS NOT NULL"),
    ),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

check_results = table(
    "check_results",
    _identity(),
    sa.Column(
        "check_id",
        sa.Uuid,
        sa.ForeignKey("check_definitions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    ts("executed_at", nullable=False),
    sa.Column("execution_time_ms", sa.Integer),
    sa.Column("sensor_value", sa.Numeric),
    sa.Column("rule_passed", sa.Boolean, nullable=False),
    sa.Column("severity", sa.String(10)),
    sa.Column("error_message", sa.Text),
    # Added by spine: what explains the value (failed-row samples, the schema seen by
    # schema_change, the anomaly band, the thresholds that failed); see docs/quality.md.
    json_col("details"),
    one_of("severity", CHECK_SEVERITIES, "severity"),
    sa.Index("idx_results_check", "check_id", "executed_at"),
    sa.Index(
        "idx_results_failed",
        "check_id",
        "executed_at",
        sqlite_where=sa.text("rule_passed = 0"),
        postgresql_where=sa.text("rule_passed = false"),
    ),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

incidents = table(
    "incidents",
    uuid_pk(),
    sa.Column(
        "check_id",
        sa.Uuid,
        sa.ForeignKey("check_definitions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("status", sa.String(20), nullable=False, server_default="open"),
    sa.Column("severity", sa.String(10), nullable=False),
    counter("failure_count", 1),
    ts("first_seen", nullable=False),
    ts("last_seen", nullable=False),
    ts("resolved_at"),
    sa.Column("acknowledged_by", sa.String(255)),
    sa.Column("resolution_notes", sa.Text),
    # Added by spine: when it was acknowledged, the passes in a row since the last
    # failure (auto-resolve), and how often a flapping check reopened it.
    ts("acknowledged_at"),
    counter("consecutive_passes"),
    counter("reopened_count"),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    one_of("status", INCIDENT_STATUSES, "status"),
    one_of("severity", CHECK_SEVERITIES, "severity"),
    sa.Index("idx_incidents_check", "check_id"),
    sa.Index(
        "idx_incidents_status",
        "status",
        sqlite_where=sa.text("status != 'resolved'"),
        postgresql_where=sa.text("status != 'resolved'"),
    ),
    # Only one open incident per check.
    sa.Index(
        "idx_incidents_open",
        "check_id",
        unique=True,
        sqlite_where=sa.text("status IN ('open', 'acknowledged')"),
        postgresql_where=sa.text("status IN ('open', 'acknowledged')"),
    ),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

schedules = table(
    "schedules",
    uuid_pk(),
    sa.Column(
        "check_id",
        sa.Uuid,
        sa.ForeignKey("check_definitions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("cron_expression", sa.String(100), nullable=False),
    sa.Column("timezone", sa.String(50), nullable=False, server_default="UTC"),
    flag("enabled", True),
    ts("last_run_at"),
    ts("next_run_at"),
    sa.Column("last_run_job_id", sa.Uuid),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.UniqueConstraint("check_id", name="uq_schedules_check"),
    sa.Index(
        "idx_schedules_next_run",
        "next_run_at",
        sqlite_where=sa.text("enabled = 1"),
        postgresql_where=sa.text("enabled = true"),
    ),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

jobs = table(
    "jobs",
    uuid_pk(),
    sa.Column(
        "check_id",
        sa.Uuid,
        sa.ForeignKey("check_definitions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("status", sa.String(20), nullable=False, server_default="queued"),
    ts("created_at", nullable=False),
    ts("started_at"),
    ts("completed_at"),
    # References check_results.id; no FOREIGN KEY because that table is partitioned.
    sa.Column("result_id", sa.BigInteger),
    sa.Column("error_message", sa.Text),
    sa.Column("triggered_by", sa.String(50), nullable=False, server_default="api"),
    sa.Column("schedule_id", sa.Uuid, sa.ForeignKey("schedules.id")),
    # Added by spine: the durable claim (a worker's id and lease; a job whose lease ran
    # out is claimed again) and how many times it was claimed.
    sa.Column("claimed_by", sa.String(200)),
    ts("lease_expires_at"),
    counter("attempts"),
    one_of("status", JOB_STATUSES, "status"),
    sa.Index("idx_jobs_check", "check_id", "created_at"),
    sa.Index(
        "idx_jobs_status",
        "status",
        sqlite_where=sa.text("status IN ('queued', 'running')"),
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    ),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

webhooks = table(
    "webhooks",
    uuid_pk(),
    sa.Column(
        "workspace_id", sa.Uuid, sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.String(255)),
    json_col("events", nullable=False),
    flag("enabled", True),
    ts("last_triggered_at"),
    sa.Column("last_response_code", sa.Integer),
    counter("failure_count"),
    # Added by spine: the alert channel that delivers this webhook through the alerting
    # outbox (retries, dead letters, breakers); see docs/decisions.md.
    sa.Column("channel_id", sa.String(26)),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.UniqueConstraint("workspace_id", "name", name="uq_webhooks_workspace_name"),
    sa.Index("idx_webhooks_workspace", "workspace_id"),
    sa.Index(
        "idx_webhooks_enabled",
        "workspace_id",
        "enabled",
        sqlite_where=sa.text("enabled = 1"),
        postgresql_where=sa.text("enabled = true"),
    ),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

audit_log = table(
    "audit_log",
    _identity(),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("entity_type", sa.String(50), nullable=False),
    sa.Column("entity_id", sa.Uuid, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("api_key_id", sa.Uuid),
    json_col("changes"),
    ts("created_at", nullable=False),
    sa.Index("idx_audit_workspace", "workspace_id", "created_at"),
    sa.Index("idx_audit_entity", "entity_type", "entity_id", "created_at"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

# Tables PostgreSQL partitions by month, with the column that picks the partition.
PARTITIONED_TABLES = {"check_results": "executed_at", "audit_log": "created_at"}
