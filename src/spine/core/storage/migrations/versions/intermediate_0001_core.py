"""Intermediate tier: spec 000's core tables, spec 003 (automation) and spec 004 (DQ platform).

Revision ID: intermediate_0001
Branch: intermediate
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from spine.core.storage.migrations.support import (
    create_default_partition,
    create_gin_index,
    create_schemas,
    create_view,
    drop_read_only_function,
    drop_schemas,
    drop_view,
    partitioned_by,
    primary_key,
    ref,
    schema,
)
from spine.core.storage.schema.automation import STANDARD_ENTITY_TYPES, STANDARD_TRIGGER_TYPES
from spine.core.storage.schema.legacy_views import LEGACY_VIEWS
from spine.core.storage.types import JSONType, UtcDateTime, keyed_text

# Seeded rows get the same id in every database.
SEED_NAMESPACE = uuid.UUID("5f1b3c1e-7d4a-4c2e-9a8b-0c6d2e4f6a80")

revision: str = "intermediate_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("intermediate",)
depends_on: str | Sequence[str] | None = "basic_0001"


def upgrade() -> None:
    WORKFLOW = schema("workflow")
    CORE = schema("core")
    create_schemas("workflow", "core")
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=True),
            nullable=False,
        ),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("changes", JSONType(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        primary_key("audit_log", "created_at"),
        **partitioned_by("created_at"),
    )
    create_default_partition("audit_log")
    op.create_index(
        "idx_audit_entity",
        "audit_log",
        ["entity_type", "entity_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "idx_audit_workspace",
        "audit_log",
        ["workspace_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_date", UtcDateTime(), nullable=False),
        sa.Column("updated_date", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name="uq_users_email"),
        schema=CORE,
    )
    op.create_table(
        "core_alert_channels",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("channel_type", sa.String(length=50), nullable=False),
        sa.Column("config_json", JSONType(), nullable=False),
        sa.Column("min_severity", sa.String(length=20), server_default="INFO", nullable=False),
        sa.Column("domains", JSONType(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("throttle_minutes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_success_at", UtcDateTime(), nullable=True),
        sa.Column("last_failure_at", UtcDateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "min_severity IN ('INFO', 'WARNING', 'ERROR', 'CRITICAL')",
            name=op.f("ck_core_alert_channels_min_severity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_alert_channels")),
        sa.UniqueConstraint("name", name="uq_alert_channels_name"),
    )
    op.create_table(
        "core_alert_throttle",
        sa.Column("dedup_key", sa.String(length=128), nullable=False),
        sa.Column("last_sent_at", UtcDateTime(), nullable=False),
        sa.Column("send_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("dedup_key", name=op.f("pk_core_alert_throttle")),
    )
    op.create_index(
        "idx_alert_throttle_expires", "core_alert_throttle", ["expires_at"], unique=False
    )
    op.create_table(
        "core_database_connections",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dialect", sa.String(length=20), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("database", sa.String(length=500), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("password_ref", sa.String(length=500), nullable=True),
        sa.Column("pool_size", sa.Integer(), server_default="5", nullable=False),
        sa.Column("max_overflow", sa.Integer(), server_default="10", nullable=False),
        sa.Column("pool_timeout", sa.Integer(), server_default="30", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_connected_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "dialect IN ('sqlite', 'postgresql', 'mysql', 'duckdb', 'db2')",
            name=op.f("ck_core_database_connections_dialect"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_database_connections")),
        sa.UniqueConstraint("name", name="uq_database_connections_name"),
    )
    op.create_table(
        "core_schedules",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("target_type", sa.String(length=20), server_default="workflow", nullable=False),
        sa.Column("target_name", sa.String(length=200), nullable=False),
        sa.Column("params", JSONType(), nullable=True),
        sa.Column("schedule_type", sa.String(length=20), nullable=False),
        sa.Column("cron_expression", sa.String(length=200), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("run_at", UtcDateTime(), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("max_instances", sa.Integer(), server_default="1", nullable=False),
        sa.Column("misfire_grace_seconds", sa.Integer(), nullable=True),
        sa.Column("last_run_at", UtcDateTime(), nullable=True),
        sa.Column("next_run_at", UtcDateTime(), nullable=True),
        sa.Column("last_run_status", sa.String(length=20), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("catchup", sa.String(length=20), server_default="coalesce", nullable=False),
        sa.Column("dst_policy", sa.String(length=50), nullable=True),
        sa.CheckConstraint(
            "schedule_type IN ('cron', 'interval', 'date')",
            name=op.f("ck_core_schedules_schedule_type"),
        ),
        sa.CheckConstraint(
            "target_type IN ('pipeline', 'workflow')", name=op.f("ck_core_schedules_target_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_schedules")),
        sa.UniqueConstraint("name", name="uq_schedules_name"),
    )
    op.create_index(
        "idx_schedules_due",
        "core_schedules",
        ["next_run_at"],
        unique=False,
        sqlite_where=sa.text("enabled = 1"),
        postgresql_where=sa.text("enabled = true"),
    )
    op.create_index("idx_schedules_target", "core_schedules", ["target_name"], unique=False)
    op.create_table(
        "core_sources",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source_type", sa.String(length=20), nullable=False),
        sa.Column("config_json", JSONType(), nullable=False),
        sa.Column("domain", sa.String(length=200), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "source_type IN ('file', 'http', 'database', 's3', 'sftp')",
            name=op.f("ck_core_sources_source_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_sources")),
        sa.UniqueConstraint("name", name="uq_sources_name"),
    )
    op.create_index("idx_sources_domain", "core_sources", ["domain"], unique=False)
    op.create_index("idx_sources_type", "core_sources", ["source_type"], unique=False)
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_index("idx_organizations_name", "organizations", ["name"], unique=True)
    op.create_table(
        "allocation_results",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("allocation_data", JSONType(), nullable=False),
        sa.Column("created_date", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_results")),
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_allocation_idempotency",
        "allocation_results",
        ["idempotency_key"],
        unique=True,
        schema=WORKFLOW,
    )
    op.create_table(
        "core_workflow_runs",
        sa.Column("run_id", sa.String(length=26), nullable=False),
        sa.Column("workflow_name", sa.String(length=200), nullable=False),
        sa.Column("workflow_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("domain", sa.String(length=200), nullable=True),
        sa.Column("partition_key", keyed_text(500), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="PENDING", nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("params", JSONType(), nullable=True),
        sa.Column("outputs", JSONType(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_category", sa.String(length=50), nullable=True),
        sa.Column("error_retryable", sa.Boolean(), nullable=True),
        sa.Column("total_steps", sa.Integer(), server_default="0", nullable=False),
        sa.Column("completed_steps", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed_steps", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped_steps", sa.Integer(), server_default="0", nullable=False),
        sa.Column("triggered_by", sa.String(length=50), server_default="manual", nullable=False),
        sa.Column("parent_run_id", sa.String(length=26), nullable=True),
        sa.Column("schedule_id", sa.String(length=26), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("capture_id", sa.String(length=100), nullable=True),
        sa.Column("metrics", JSONType(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
        sa.Column("wake_at", UtcDateTime(), nullable=True),
        sa.Column("cancel_requested_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')",
            name=op.f("ck_core_workflow_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_run_id"],
            ["core_workflow_runs.run_id"],
            name=op.f("fk_core_workflow_runs_parent_run_id_core_workflow_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["core_schedules.id"],
            name=op.f("fk_core_workflow_runs_schedule_id_core_schedules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_core_workflow_runs")),
    )
    op.create_index(
        "idx_workflow_runs_claimable",
        "core_workflow_runs",
        ["wake_at"],
        unique=False,
        sqlite_where=sa.text("status IN ('PENDING', 'RUNNING')"),
        postgresql_where=sa.text("status IN ('PENDING', 'RUNNING')"),
    )
    op.create_index("idx_workflow_runs_created", "core_workflow_runs", ["created_at"], unique=False)
    op.create_index(
        "idx_workflow_runs_domain", "core_workflow_runs", ["domain", "created_at"], unique=False
    )
    op.create_index(
        "idx_workflow_runs_failed",
        "core_workflow_runs",
        ["status", "created_at"],
        unique=False,
        sqlite_where=sa.text("status = 'FAILED'"),
        postgresql_where=sa.text("status = 'FAILED'"),
    )
    op.create_index(
        "idx_workflow_runs_name",
        "core_workflow_runs",
        ["workflow_name", "created_at"],
        unique=False,
    )
    op.create_index(
        "idx_workflow_runs_parent", "core_workflow_runs", ["parent_run_id"], unique=False
    )
    op.create_index(
        "idx_workflow_runs_schedule", "core_workflow_runs", ["schedule_id"], unique=False
    )
    op.create_index("idx_workflow_runs_started", "core_workflow_runs", ["started_at"], unique=False)
    op.create_index(
        "idx_workflow_runs_status", "core_workflow_runs", ["status", "created_at"], unique=False
    )
    op.create_table(
        "action_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", keyed_text(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("action_type", sa.Text(), nullable=False),
        sa.Column("default_config", JSONType(), nullable=False),
        sa.Column("created_date", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=True),
        sa.Column("deactivated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            [ref("core", "users.id")],
            name=op.f("fk_action_templates_created_by_users"),
        ),
        sa.ForeignKeyConstraint(
            ["deactivated_by"],
            [ref("core", "users.id")],
            name=op.f("fk_action_templates_deactivated_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_templates")),
        sa.UniqueConstraint("name", name="uq_action_templates_name"),
        schema=WORKFLOW,
    )
    op.create_table(
        "entity_types",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", keyed_text(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("deactivated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deactivated_by"],
            [ref("core", "users.id")],
            name=op.f("fk_entity_types_deactivated_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_types")),
        sa.UniqueConstraint("name", name="uq_entity_types_name"),
        schema=WORKFLOW,
    )
    op.create_table(
        "trigger_types",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", keyed_text(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("deactivated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deactivated_by"],
            [ref("core", "users.id")],
            name=op.f("fk_trigger_types_deactivated_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_types")),
        sa.UniqueConstraint("name", name="uq_trigger_types_name"),
        schema=WORKFLOW,
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_workspaces_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("organization_id", "name", name="uq_workspaces_org_name"),
    )
    op.create_index("idx_workspaces_org", "workspaces", ["organization_id"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("key_prefix", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.String(length=255), nullable=False),
        sa.Column("scopes", JSONType(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_api_keys_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index("idx_api_keys_prefix", "api_keys", ["key_prefix"], unique=False)
    op.create_index("idx_api_keys_workspace", "api_keys", ["workspace_id"], unique=False)
    op.create_table(
        "connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("config_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="unknown", nullable=False),
        sa.Column("last_tested_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('unknown', 'healthy', 'unhealthy', 'error')",
            name=op.f("ck_connections_status"),
        ),
        sa.CheckConstraint(
            "type IN ('postgresql', 'mysql', 'sqlserver', 'bigquery', 'snowflake', 'redshift', 'databricks')",
            name=op.f("ck_connections_type"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_connections_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("workspace_id", "name", name="uq_connections_workspace_name"),
    )
    op.create_index("idx_connections_type", "connections", ["type"], unique=False)
    op.create_index("idx_connections_workspace", "connections", ["workspace_id"], unique=False)
    op.create_table(
        "core_alerts",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=200), nullable=True),
        sa.Column("execution_id", sa.String(length=26), nullable=True),
        sa.Column("run_id", sa.String(length=26), nullable=True),
        sa.Column("metadata_json", JSONType(), nullable=True),
        sa.Column("error_category", sa.String(length=50), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("dedup_key", sa.String(length=128), nullable=True),
        sa.Column("capture_id", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "severity IN ('INFO', 'WARNING', 'ERROR', 'CRITICAL')",
            name=op.f("ck_core_alerts_severity"),
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["core_executions.id"],
            name=op.f("fk_core_alerts_execution_id_core_executions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["core_workflow_runs.run_id"],
            name=op.f("fk_core_alerts_run_id_core_workflow_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_alerts")),
    )
    op.create_index("idx_core_alerts_created", "core_alerts", ["created_at"], unique=False)
    op.create_index("idx_core_alerts_dedup", "core_alerts", ["dedup_key"], unique=False)
    op.create_index("idx_core_alerts_run", "core_alerts", ["run_id"], unique=False)
    op.create_index(
        "idx_core_alerts_severity", "core_alerts", ["severity", "created_at"], unique=False
    )
    op.create_index("idx_core_alerts_source", "core_alerts", ["source"], unique=False)
    op.create_table(
        "core_schedule_runs",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("schedule_id", sa.String(length=26), nullable=False),
        sa.Column("schedule_name", sa.String(length=200), nullable=False),
        sa.Column("scheduled_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="PENDING", nullable=False),
        sa.Column("run_id", sa.String(length=26), nullable=True),
        sa.Column("execution_id", sa.String(length=26), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED', 'MISSED')",
            name=op.f("ck_core_schedule_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["core_executions.id"],
            name=op.f("fk_core_schedule_runs_execution_id_core_executions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["core_workflow_runs.run_id"],
            name=op.f("fk_core_schedule_runs_run_id_core_workflow_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["core_schedules.id"],
            name=op.f("fk_core_schedule_runs_schedule_id_core_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_schedule_runs")),
        sa.UniqueConstraint("schedule_id", "scheduled_at", name="uq_schedule_runs_fire"),
    )
    op.create_index("idx_schedule_runs_run", "core_schedule_runs", ["run_id"], unique=False)
    op.create_index(
        "idx_schedule_runs_scheduled", "core_schedule_runs", ["scheduled_at"], unique=False
    )
    op.create_index("idx_schedule_runs_status", "core_schedule_runs", ["status"], unique=False)
    op.create_table(
        "core_source_fetches",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("source_id", sa.String(length=26), nullable=True),
        sa.Column("source_name", sa.String(length=200), nullable=False),
        sa.Column("source_type", sa.String(length=20), nullable=False),
        sa.Column("source_locator", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=True),
        sa.Column("byte_count", sa.BigInteger(), nullable=True),
        sa.Column("content_hash", sa.String(length=128), nullable=True),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_category", sa.String(length=50), nullable=True),
        sa.Column("retry_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("execution_id", sa.String(length=26), nullable=True),
        sa.Column("run_id", sa.String(length=26), nullable=True),
        sa.Column("capture_id", sa.String(length=100), nullable=True),
        sa.Column("metadata_json", JSONType(), nullable=True),
        sa.CheckConstraint(
            "status IN ('SUCCESS', 'FAILED', 'NOT_FOUND', 'UNCHANGED')",
            name=op.f("ck_core_source_fetches_status"),
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["core_executions.id"],
            name=op.f("fk_core_source_fetches_execution_id_core_executions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["core_workflow_runs.run_id"],
            name=op.f("fk_core_source_fetches_run_id_core_workflow_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["core_sources.id"],
            name=op.f("fk_core_source_fetches_source_id_core_sources"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_source_fetches")),
    )
    op.create_index(
        "idx_source_fetches_failed",
        "core_source_fetches",
        ["status", "started_at"],
        unique=False,
        sqlite_where=sa.text("status = 'FAILED'"),
        postgresql_where=sa.text("status = 'FAILED'"),
    )
    op.create_index(
        "idx_source_fetches_name",
        "core_source_fetches",
        ["source_name", "started_at"],
        unique=False,
    )
    op.create_index("idx_source_fetches_run", "core_source_fetches", ["run_id"], unique=False)
    op.create_index(
        "idx_source_fetches_source",
        "core_source_fetches",
        ["source_id", "started_at"],
        unique=False,
    )
    op.create_index(
        "idx_source_fetches_started", "core_source_fetches", ["started_at"], unique=False
    )
    op.create_index("idx_source_fetches_status", "core_source_fetches", ["status"], unique=False)
    op.create_table(
        "core_workflow_steps",
        sa.Column("step_id", sa.String(length=26), nullable=False),
        sa.Column("run_id", sa.String(length=26), nullable=False),
        sa.Column("step_name", sa.String(length=200), nullable=False),
        sa.Column("step_type", sa.String(length=50), nullable=False),
        sa.Column("step_order", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="PENDING", nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("params", JSONType(), nullable=True),
        sa.Column("outputs", JSONType(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_category", sa.String(length=50), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("metrics", JSONType(), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("execution_id", sa.String(length=26), nullable=True),
        sa.Column("quality_passed", sa.Boolean(), nullable=True),
        sa.Column("quality_metrics", JSONType(), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED')",
            name=op.f("ck_core_workflow_steps_status"),
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["core_executions.id"],
            name=op.f("fk_core_workflow_steps_execution_id_core_executions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["core_workflow_runs.run_id"],
            name=op.f("fk_core_workflow_steps_run_id_core_workflow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("step_id", name=op.f("pk_core_workflow_steps")),
        sa.UniqueConstraint("run_id", "step_name", "attempt", name="uq_workflow_steps_attempt"),
    )
    op.create_index(
        "idx_workflow_steps_execution", "core_workflow_steps", ["execution_id"], unique=False
    )
    op.create_index(
        "idx_workflow_steps_failed",
        "core_workflow_steps",
        ["status", "started_at"],
        unique=False,
        sqlite_where=sa.text("status = 'FAILED'"),
        postgresql_where=sa.text("status = 'FAILED'"),
    )
    op.create_index(
        "idx_workflow_steps_run", "core_workflow_steps", ["run_id", "step_order"], unique=False
    )
    op.create_index(
        "idx_workflow_steps_started", "core_workflow_steps", ["started_at"], unique=False
    )
    op.create_index("idx_workflow_steps_status", "core_workflow_steps", ["status"], unique=False)
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=True),
        sa.Column("events", JSONType(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_triggered_at", UtcDateTime(), nullable=True),
        sa.Column("last_response_code", sa.Integer(), nullable=True),
        sa.Column("failure_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_webhooks_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index(
        "idx_webhooks_enabled",
        "webhooks",
        ["workspace_id", "enabled"],
        unique=False,
        sqlite_where=sa.text("enabled = 1"),
        postgresql_where=sa.text("enabled = true"),
    )
    op.create_index("idx_webhooks_workspace", "webhooks", ["workspace_id"], unique=False)
    op.create_table(
        "entities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", keyed_text(255), nullable=False),
        sa.Column("entity_type_id", sa.Uuid(), nullable=False),
        sa.Column("schema_name", sa.Text(), server_default="public", nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=True),
        sa.Column("created_date", UtcDateTime(), nullable=False),
        sa.Column("deactivated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deactivated_by"],
            [ref("core", "users.id")],
            name=op.f("fk_entities_deactivated_by_users"),
        ),
        sa.ForeignKeyConstraint(
            ["entity_type_id"],
            [ref("workflow", "entity_types.id")],
            name=op.f("fk_entities_entity_type_id_entity_types"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entities")),
        sa.UniqueConstraint("name", name="uq_entities_name"),
        schema=WORKFLOW,
    )
    op.create_table(
        "check_definitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("check_type", sa.String(length=100), nullable=False),
        sa.Column("target_type", sa.String(length=10), nullable=False),
        sa.Column("target_schema", sa.String(length=255), nullable=True),
        sa.Column("target_table", sa.String(length=255), nullable=False),
        sa.Column("target_column", sa.String(length=255), nullable=True),
        sa.Column("config", JSONType(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("severity", sa.String(length=10), server_default="error", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("tags", JSONType(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("data_product_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "severity IN ('warning', 'error', 'fatal')", name=op.f("ck_check_definitions_severity")
        ),
        sa.CheckConstraint(
            "target_type IN ('table', 'column')", name=op.f("ck_check_definitions_target_type")
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_check_definitions_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_definitions")),
        sa.UniqueConstraint("connection_id", "name", name="uq_check_definitions_connection_name"),
    )
    op.create_index("idx_checks_connection", "check_definitions", ["connection_id"], unique=False)
    op.create_index(
        "idx_checks_data_product",
        "check_definitions",
        ["data_product_id"],
        unique=False,
        sqlite_where=sa.text("data_product_id IS NOT NULL"),
        postgresql_where=sa.text("data_product_id IS NOT NULL"),
    )
    op.create_index(
        "idx_checks_enabled",
        "check_definitions",
        ["enabled"],
        unique=False,
        sqlite_where=sa.text("enabled = 1"),
        postgresql_where=sa.text("enabled = true"),
    )
    op.create_index(
        "idx_checks_target", "check_definitions", ["target_schema", "target_table"], unique=False
    )
    op.create_index("idx_checks_type", "check_definitions", ["check_type"], unique=False)
    op.create_table(
        "core_alert_deliveries",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("alert_id", sa.String(length=26), nullable=False),
        sa.Column("channel_id", sa.String(length=26), nullable=True),
        sa.Column("channel_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="PENDING", nullable=False),
        sa.Column("attempted_at", UtcDateTime(), nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.Column("response_json", JSONType(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("next_retry_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'SENT', 'FAILED', 'THROTTLED')",
            name=op.f("ck_core_alert_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["core_alerts.id"],
            name=op.f("fk_core_alert_deliveries_alert_id_core_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["core_alert_channels.id"],
            name=op.f("fk_core_alert_deliveries_channel_id_core_alert_channels"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_alert_deliveries")),
        sa.UniqueConstraint(
            "alert_id", "channel_id", "attempt", name="uq_alert_deliveries_attempt"
        ),
    )
    op.create_index(
        "idx_alert_deliveries_alert", "core_alert_deliveries", ["alert_id"], unique=False
    )
    op.create_index(
        "idx_alert_deliveries_channel", "core_alert_deliveries", ["channel_id"], unique=False
    )
    op.create_index(
        "idx_alert_deliveries_pending",
        "core_alert_deliveries",
        ["next_retry_at"],
        unique=False,
        sqlite_where=sa.text("status = 'PENDING'"),
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.create_index(
        "idx_alert_deliveries_retry",
        "core_alert_deliveries",
        ["next_retry_at"],
        unique=False,
        sqlite_where=sa.text("status = 'FAILED'"),
        postgresql_where=sa.text("status = 'FAILED'"),
    )
    op.create_index(
        "idx_alert_deliveries_status", "core_alert_deliveries", ["status"], unique=False
    )
    op.create_table(
        "core_workflow_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=26), nullable=False),
        sa.Column("step_id", sa.String(length=26), nullable=True),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("payload", JSONType(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["core_workflow_runs.run_id"],
            name=op.f("fk_core_workflow_events_run_id_core_workflow_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["core_workflow_steps.step_id"],
            name=op.f("fk_core_workflow_events_step_id_core_workflow_steps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_workflow_events")),
        sa.UniqueConstraint("idempotency_key", name="uq_workflow_events_idempotency_key"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "idx_workflow_events_run", "core_workflow_events", ["run_id", "id"], unique=False
    )
    op.create_index("idx_workflow_events_step", "core_workflow_events", ["step_id"], unique=False)
    op.create_index(
        "idx_workflow_events_timestamp", "core_workflow_events", ["timestamp"], unique=False
    )
    op.create_table(
        "automation_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("entity_type_id", sa.Uuid(), nullable=False),
        sa.Column("trigger_type_id", sa.Uuid(), nullable=False),
        sa.Column("trigger_conditions", JSONType(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_date", UtcDateTime(), nullable=False),
        sa.Column("updated_date", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("deactivated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            [ref("core", "users.id")],
            name=op.f("fk_automation_rules_created_by_users"),
        ),
        sa.ForeignKeyConstraint(
            ["deactivated_by"],
            [ref("core", "users.id")],
            name=op.f("fk_automation_rules_deactivated_by_users"),
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            [ref("workflow", "entities.id")],
            name=op.f("fk_automation_rules_entity_id_entities"),
        ),
        sa.ForeignKeyConstraint(
            ["entity_type_id"],
            [ref("workflow", "entity_types.id")],
            name=op.f("fk_automation_rules_entity_type_id_entity_types"),
        ),
        sa.ForeignKeyConstraint(
            ["trigger_type_id"],
            [ref("workflow", "trigger_types.id")],
            name=op.f("fk_automation_rules_trigger_type_id_trigger_types"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            [ref("core", "users.id")],
            name=op.f("fk_automation_rules_updated_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_rules")),
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_automation_rules_active",
        "automation_rules",
        ["is_active"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_automation_rules_entity",
        "automation_rules",
        ["entity_id"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_automation_rules_trigger",
        "automation_rules",
        ["trigger_type_id"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_table(
        "check_results",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=True),
            nullable=False,
        ),
        sa.Column("check_id", sa.Uuid(), nullable=False),
        sa.Column("executed_at", UtcDateTime(), nullable=False),
        sa.Column("execution_time_ms", sa.Integer(), nullable=True),
        sa.Column("sensor_value", sa.Numeric(), nullable=True),
        sa.Column("rule_passed", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "severity IN ('warning', 'error', 'fatal')", name=op.f("ck_check_results_severity")
        ),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["check_definitions.id"],
            name=op.f("fk_check_results_check_id_check_definitions"),
            ondelete="CASCADE",
        ),
        primary_key("check_results", "executed_at"),
        **partitioned_by("executed_at"),
    )
    create_default_partition("check_results")
    op.create_index(
        "idx_results_check",
        "check_results",
        ["check_id", "executed_at"],
        unique=False,
    )
    op.create_index(
        "idx_results_failed",
        "check_results",
        ["check_id", "executed_at"],
        unique=False,
        sqlite_where=sa.text("rule_passed = 0"),
        postgresql_where=sa.text("rule_passed = false"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("check_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="open", nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("failure_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("first_seen", UtcDateTime(), nullable=False),
        sa.Column("last_seen", UtcDateTime(), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=255), nullable=True),
        sa.Column("resolution_notes", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "severity IN ('warning', 'error', 'fatal')", name=op.f("ck_incidents_severity")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_incidents_status")
        ),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["check_definitions.id"],
            name=op.f("fk_incidents_check_id_check_definitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("idx_incidents_check", "incidents", ["check_id"], unique=False)
    op.create_index(
        "idx_incidents_open",
        "incidents",
        ["check_id"],
        unique=True,
        sqlite_where=sa.text("status IN ('open', 'acknowledged')"),
        postgresql_where=sa.text("status IN ('open', 'acknowledged')"),
    )
    op.create_index(
        "idx_incidents_status",
        "incidents",
        ["status"],
        unique=False,
        sqlite_where=sa.text("status != 'resolved'"),
        postgresql_where=sa.text("status != 'resolved'"),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("check_id", sa.Uuid(), nullable=False),
        sa.Column("cron_expression", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=50), server_default="UTC", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_run_at", UtcDateTime(), nullable=True),
        sa.Column("next_run_at", UtcDateTime(), nullable=True),
        sa.Column("last_run_job_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["check_definitions.id"],
            name=op.f("fk_schedules_check_id_check_definitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("check_id", name="uq_schedules_check"),
    )
    op.create_index(
        "idx_schedules_next_run",
        "schedules",
        ["next_run_at"],
        unique=False,
        sqlite_where=sa.text("enabled = 1"),
        postgresql_where=sa.text("enabled = true"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("alert_type", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), server_default="medium", nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("context", JSONType(), server_default=sa.text("'{}'"), nullable=True),
        sa.Column("source_entity_name", sa.Text(), nullable=True),
        sa.Column("source_entity_id", sa.Uuid(), nullable=True),
        sa.Column("source_rule_id", sa.Uuid(), nullable=True),
        sa.Column("status", keyed_text(50), server_default="active", nullable=False),
        sa.Column("expires_date", UtcDateTime(), nullable=True),
        sa.Column("created_date", UtcDateTime(), nullable=False),
        sa.Column("updated_date", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "severity IN ('low', 'medium', 'high', 'critical')", name=op.f("ck_alerts_severity")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'acknowledged', 'dismissed', 'resolved')",
            name=op.f("ck_alerts_status"),
        ),
        sa.ForeignKeyConstraint(
            ["source_rule_id"],
            [ref("workflow", "automation_rules.id")],
            name=op.f("fk_alerts_source_rule_id_automation_rules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        schema=WORKFLOW,
    )
    op.create_index("idx_alerts_created", "alerts", ["created_date"], unique=False, schema=WORKFLOW)
    op.create_index("idx_alerts_status", "alerts", ["status"], unique=False, schema=WORKFLOW)
    op.create_table(
        "automation_executions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("automation_rules_id", sa.Uuid(), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("trigger_data", JSONType(), nullable=True),
        sa.Column("actions_executed", JSONType(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("execution_time_ms", sa.Integer(), nullable=True),
        sa.Column("executed_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('success', 'failed', 'partial')",
            name=op.f("ck_automation_executions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["automation_rules_id"],
            [ref("workflow", "automation_rules.id")],
            name=op.f("fk_automation_executions_automation_rules_id_automation_rules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_executions")),
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_automation_executions_date",
        "automation_executions",
        ["executed_at"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_automation_executions_rule",
        "automation_executions",
        ["automation_rules_id"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_automation_executions_status",
        "automation_executions",
        ["status"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_table(
        "rule_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("automation_rules_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("action_config", JSONType(), nullable=False),
        sa.Column("execution_order", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=True),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("deactivated_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint("execution_order >= 1", name=op.f("ck_rule_actions_execution_order")),
        sa.ForeignKeyConstraint(
            ["automation_rules_id"],
            [ref("workflow", "automation_rules.id")],
            name=op.f("fk_rule_actions_automation_rules_id_automation_rules"),
        ),
        sa.ForeignKeyConstraint(
            ["deactivated_by"],
            [ref("core", "users.id")],
            name=op.f("fk_rule_actions_deactivated_by_users"),
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            [ref("workflow", "action_templates.id")],
            name=op.f("fk_rule_actions_template_id_action_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_actions")),
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_rule_actions_order", "rule_actions", ["execution_order"], unique=False, schema=WORKFLOW
    )
    op.create_index(
        "idx_rule_actions_rule",
        "rule_actions",
        ["automation_rules_id"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_table(
        "rule_dependencies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("parent_rule_id", sa.Uuid(), nullable=False),
        sa.Column("child_rule_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "parent_rule_id <> child_rule_id", name=op.f("ck_rule_dependencies_not_self")
        ),
        sa.ForeignKeyConstraint(
            ["child_rule_id"],
            [ref("workflow", "automation_rules.id")],
            name=op.f("fk_rule_dependencies_child_rule_id_automation_rules"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_rule_id"],
            [ref("workflow", "automation_rules.id")],
            name=op.f("fk_rule_dependencies_parent_rule_id_automation_rules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_dependencies")),
        sa.UniqueConstraint("parent_rule_id", "child_rule_id", name="uq_rule_dependencies_pair"),
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_rule_dependencies_child",
        "rule_dependencies",
        ["child_rule_id"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("check_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="queued", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("result_id", sa.BigInteger(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("triggered_by", sa.String(length=50), server_default="api", nullable=False),
        sa.Column("schedule_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_jobs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["check_definitions.id"],
            name=op.f("fk_jobs_check_id_check_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_jobs_schedule_id_schedules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("idx_jobs_check", "jobs", ["check_id", "created_at"], unique=False)
    op.create_index(
        "idx_jobs_status",
        "jobs",
        ["status"],
        unique=False,
        sqlite_where=sa.text("status IN ('queued', 'running')"),
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_table(
        "alert_acknowledgments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=False),
        sa.Column("acknowledged_date", UtcDateTime(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            [ref("core", "users.id")],
            name=op.f("fk_alert_acknowledgments_acknowledged_by_users"),
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            [ref("workflow", "alerts.id")],
            name=op.f("fk_alert_acknowledgments_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_acknowledgments")),
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_alert_acknowledgments_alert",
        "alert_acknowledgments",
        ["alert_id"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_table(
        "alert_recipients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_type", keyed_text(50), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("created_date", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "recipient_type IN ('user', 'role')", name=op.f("ck_alert_recipients_recipient_type")
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            [ref("workflow", "alerts.id")],
            name=op.f("fk_alert_recipients_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_recipients")),
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_alert_recipients_alert",
        "alert_recipients",
        ["alert_id"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_alert_recipients_recipient",
        "alert_recipients",
        ["recipient_type", "recipient_id"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("automation_execution_id", sa.Uuid(), nullable=True),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("action_id", sa.Uuid(), nullable=True),
        sa.Column("recipient_id", sa.String(length=320), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=True),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.Column("failed_at", UtcDateTime(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("provider_response", JSONType(), nullable=True),
        sa.Column("created_date", UtcDateTime(), nullable=False),
        sa.Column("updated_date", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'delivered', 'failed', 'bounced', 'retrying')",
            name=op.f("ck_notification_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            [ref("workflow", "rule_actions.id")],
            name=op.f("fk_notification_deliveries_action_id_rule_actions"),
        ),
        sa.ForeignKeyConstraint(
            ["automation_execution_id"],
            [ref("workflow", "automation_executions.id")],
            name=op.f("fk_notification_deliveries_automation_execution_id_automation_executions"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            [ref("workflow", "automation_rules.id")],
            name=op.f("fk_notification_deliveries_rule_id_automation_rules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_notification_deliveries_execution",
        "notification_deliveries",
        ["automation_execution_id"],
        unique=False,
        schema=WORKFLOW,
    )
    op.create_index(
        "idx_notification_deliveries_status",
        "notification_deliveries",
        ["status"],
        unique=False,
        schema=WORKFLOW,
    )

    _seed_standard_types(WORKFLOW)
    create_gin_index("gin_workflow_runs_params", "core_workflow_runs", "params")
    create_gin_index("gin_core_alerts_metadata", "core_alerts", "metadata_json")
    create_gin_index("gin_check_definitions_config", "check_definitions", "config")
    create_gin_index(
        "gin_automation_rules_conditions", "automation_rules", "trigger_conditions", WORKFLOW
    )
    create_gin_index(
        "gin_automation_executions_trigger", "automation_executions", "trigger_data", WORKFLOW
    )
    for view in LEGACY_VIEWS:
        create_view(view.name, view.query)


def downgrade() -> None:
    WORKFLOW = schema("workflow")
    CORE = schema("core")
    for view in reversed(LEGACY_VIEWS):
        drop_view(view.name)
    drop_read_only_function()
    op.drop_table("notification_deliveries", schema=WORKFLOW)
    op.drop_table("alert_recipients", schema=WORKFLOW)
    op.drop_table("alert_acknowledgments", schema=WORKFLOW)
    op.drop_table("jobs")
    op.drop_table("rule_dependencies", schema=WORKFLOW)
    op.drop_table("rule_actions", schema=WORKFLOW)
    op.drop_table("automation_executions", schema=WORKFLOW)
    op.drop_table("alerts", schema=WORKFLOW)
    op.drop_table("schedules")
    op.drop_table("incidents")
    op.drop_table("check_results")
    op.drop_table("automation_rules", schema=WORKFLOW)
    op.drop_table("core_workflow_events")
    op.drop_table("core_alert_deliveries")
    op.drop_table("check_definitions")
    op.drop_table("entities", schema=WORKFLOW)
    op.drop_table("webhooks")
    op.drop_table("core_workflow_steps")
    op.drop_table("core_source_fetches")
    op.drop_table("core_schedule_runs")
    op.drop_table("core_alerts")
    op.drop_table("connections")
    op.drop_table("api_keys")
    op.drop_table("workspaces")
    op.drop_table("trigger_types", schema=WORKFLOW)
    op.drop_table("entity_types", schema=WORKFLOW)
    op.drop_table("action_templates", schema=WORKFLOW)
    op.drop_table("core_workflow_runs")
    op.drop_table("allocation_results", schema=WORKFLOW)
    op.drop_table("organizations")
    op.drop_table("core_sources")
    op.drop_table("core_schedules")
    op.drop_table("core_database_connections")
    op.drop_table("core_alert_throttle")
    op.drop_table("core_alert_channels")
    op.drop_table("users", schema=CORE)
    op.drop_table("audit_log")
    drop_schemas("workflow", "core")


def _seed_standard_types(workflow_schema: str | None) -> None:
    """Insert spec 003's standard trigger and entity types, with stable ids."""
    for name, rows in (
        ("trigger_types", STANDARD_TRIGGER_TYPES),
        ("entity_types", STANDARD_ENTITY_TYPES),
    ):
        target = sa.table(
            name,
            sa.column("id", sa.Uuid),
            sa.column("name", sa.Text),
            sa.column("description", sa.Text),
            schema=workflow_schema,
        )
        op.bulk_insert(
            target,
            [
                {
                    "id": uuid.uuid5(SEED_NAMESPACE, f"{name}:{key}"),
                    "name": key,
                    "description": text,
                }
                for key, text in rows.items()
            ],
        )
