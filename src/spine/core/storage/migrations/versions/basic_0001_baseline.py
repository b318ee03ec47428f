"""Basic tier: spec 001's baseline (executions, manifests, loads, checks, anomalies).

Revision ID: basic_0001
Branch: basic
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from spine.core.storage.types import JSONType, UtcDateTime, keyed_text

revision: str = "basic_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("basic",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_executions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("pipeline_name", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=200), nullable=True),
        sa.Column("partition_key", keyed_text(500), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="PENDING", nullable=False),
        sa.Column("params", JSONType(), nullable=True),
        sa.Column("result", JSONType(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_category", sa.String(length=50), nullable=True),
        sa.Column("run_id", sa.String(length=26), nullable=True),
        sa.Column("step_id", sa.String(length=26), nullable=True),
        sa.Column("parent_execution_id", sa.String(length=26), nullable=True),
        sa.Column("capture_id", sa.String(length=100), nullable=True),
        sa.Column("triggered_by", sa.String(length=50), server_default="manual", nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')",
            name=op.f("ck_core_executions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_execution_id"],
            ["core_executions.id"],
            name=op.f("fk_core_executions_parent_execution_id_core_executions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_executions")),
    )
    op.create_index("idx_executions_created", "core_executions", ["created_at"], unique=False)
    op.create_index(
        "idx_executions_pipeline", "core_executions", ["pipeline_name", "created_at"], unique=False
    )
    op.create_index("idx_executions_run", "core_executions", ["run_id"], unique=False)
    op.create_index(
        "idx_executions_status", "core_executions", ["status", "created_at"], unique=False
    )
    op.create_table(
        "core_data_manifests",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("domain", sa.String(length=200), nullable=False),
        sa.Column("partition_key", keyed_text(500), nullable=False),
        sa.Column("stage", sa.String(length=50), nullable=False),
        sa.Column("capture_id", sa.String(length=100), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("byte_count", sa.BigInteger(), nullable=True),
        sa.Column("content_hash", sa.String(length=128), nullable=True),
        sa.Column("source_fetch_id", sa.String(length=26), nullable=True),
        sa.Column("execution_id", sa.String(length=26), nullable=True),
        sa.Column("run_id", sa.String(length=26), nullable=True),
        sa.Column("metadata_json", JSONType(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["core_executions.id"],
            name=op.f("fk_core_data_manifests_execution_id_core_executions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_data_manifests")),
        sa.UniqueConstraint(
            "domain", "partition_key", "stage", "capture_id", name="uq_data_manifests_capture"
        ),
    )
    op.create_index(
        "idx_data_manifests_execution", "core_data_manifests", ["execution_id"], unique=False
    )
    op.create_index(
        "idx_data_manifests_partition",
        "core_data_manifests",
        ["domain", "partition_key", "stage", "created_at"],
        unique=False,
    )
    op.create_table(
        "core_load_records",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("manifest_id", sa.String(length=26), nullable=True),
        sa.Column("domain", sa.String(length=200), nullable=False),
        sa.Column("target_table", sa.String(length=200), nullable=False),
        sa.Column("partition_key", keyed_text(500), nullable=True),
        sa.Column("capture_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rows_read", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_inserted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejects", JSONType(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("execution_id", sa.String(length=26), nullable=True),
        sa.Column("run_id", sa.String(length=26), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED')",
            name=op.f("ck_core_load_records_status"),
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["core_executions.id"],
            name=op.f("fk_core_load_records_execution_id_core_executions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["manifest_id"],
            ["core_data_manifests.id"],
            name=op.f("fk_core_load_records_manifest_id_core_data_manifests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_load_records")),
    )
    op.create_index(
        "idx_load_records_execution", "core_load_records", ["execution_id"], unique=False
    )
    op.create_index("idx_load_records_manifest", "core_load_records", ["manifest_id"], unique=False)
    op.create_index(
        "idx_load_records_table", "core_load_records", ["target_table", "created_at"], unique=False
    )
    op.create_table(
        "core_quality_checks",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("check_name", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=200), nullable=True),
        sa.Column("partition_key", keyed_text(500), nullable=True),
        sa.Column("capture_id", sa.String(length=100), nullable=True),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("severity", sa.String(length=20), server_default="ERROR", nullable=False),
        sa.Column("metric_value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("details", JSONType(), nullable=True),
        sa.Column("manifest_id", sa.String(length=26), nullable=True),
        sa.Column("execution_id", sa.String(length=26), nullable=True),
        sa.Column("run_id", sa.String(length=26), nullable=True),
        sa.Column("checked_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('PASS', 'WARN', 'FAIL', 'ERROR')",
            name=op.f("ck_core_quality_checks_status"),
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["core_executions.id"],
            name=op.f("fk_core_quality_checks_execution_id_core_executions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["manifest_id"],
            ["core_data_manifests.id"],
            name=op.f("fk_core_quality_checks_manifest_id_core_data_manifests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_quality_checks")),
    )
    op.create_index(
        "idx_quality_checks_failed",
        "core_quality_checks",
        ["checked_at"],
        unique=False,
        sqlite_where=sa.text("status IN ('FAIL', 'ERROR')"),
        postgresql_where=sa.text("status IN ('FAIL', 'ERROR')"),
    )
    op.create_index(
        "idx_quality_checks_name", "core_quality_checks", ["check_name", "checked_at"], unique=False
    )
    op.create_index(
        "idx_quality_checks_partition",
        "core_quality_checks",
        ["domain", "partition_key", "checked_at"],
        unique=False,
    )
    op.create_table(
        "core_anomalies",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("domain", sa.String(length=200), nullable=True),
        sa.Column("partition_key", keyed_text(500), nullable=True),
        sa.Column("capture_id", sa.String(length=100), nullable=True),
        sa.Column("quality_check_id", sa.String(length=26), nullable=True),
        sa.Column("anomaly_type", sa.String(length=100), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="OPEN", nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metric_value", sa.Float(), nullable=True),
        sa.Column("expected_value", sa.Float(), nullable=True),
        sa.Column("details", JSONType(), nullable=True),
        sa.Column("detected_at", UtcDateTime(), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('OPEN', 'ACKNOWLEDGED', 'RESOLVED', 'IGNORED')",
            name=op.f("ck_core_anomalies_status"),
        ),
        sa.ForeignKeyConstraint(
            ["quality_check_id"],
            ["core_quality_checks.id"],
            name=op.f("fk_core_anomalies_quality_check_id_core_quality_checks"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_anomalies")),
    )
    op.create_index(
        "idx_anomalies_open",
        "core_anomalies",
        ["detected_at"],
        unique=False,
        sqlite_where=sa.text("status = 'OPEN'"),
        postgresql_where=sa.text("status = 'OPEN'"),
    )
    op.create_index(
        "idx_anomalies_partition",
        "core_anomalies",
        ["domain", "partition_key", "detected_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("core_anomalies")
    op.drop_table("core_quality_checks")
    op.drop_table("core_load_records")
    op.drop_table("core_data_manifests")
    op.drop_table("core_executions")
