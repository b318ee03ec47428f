"""Spec 001's baseline tables, which it names but does not define.

``core_executions`` records one run of a registered pipeline (spec 000 points
``execution_id`` columns at it). A pipeline's output is described by a data manifest
(what was produced, for which domain and partition, under which capture), loaded as load
records, checked into quality checks, and anomalies point back at the check that found
them. Their columns are spine's design; ``docs/schema.md`` documents them.
"""

from __future__ import annotations

import sqlalchemy as sa

from spine.core.storage.schema._base import Tier, counter, json_col, one_of, table, ts, ulid_pk
from spine.core.storage.types import keyed_text

SPEC = "001"

EXECUTION_STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")

core_executions = table(
    "core_executions",
    ulid_pk(),
    sa.Column("pipeline_name", sa.String(200), nullable=False),
    sa.Column("domain", sa.String(200)),
    sa.Column("partition_key", keyed_text(500)),
    sa.Column("status", sa.String(20), nullable=False, server_default="PENDING"),
    json_col("params"),
    json_col("result"),
    sa.Column("row_count", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("error_category", sa.String(50)),
    # The workflow run and step that started it; plain text because core_workflow_runs
    # belongs to a higher tier than this table.
    sa.Column("run_id", sa.String(26)),
    sa.Column("step_id", sa.String(26)),
    sa.Column(
        "parent_execution_id",
        sa.String(26),
        sa.ForeignKey("core_executions.id", ondelete="SET NULL"),
    ),
    sa.Column("capture_id", sa.String(100)),
    sa.Column("triggered_by", sa.String(50), nullable=False, server_default="manual"),
    ts("started_at"),
    ts("completed_at"),
    sa.Column("duration_ms", sa.BigInteger),
    ts("created_at", nullable=False),
    one_of("status", EXECUTION_STATUSES, "status"),
    sa.Index("idx_executions_pipeline", "pipeline_name", "created_at"),
    sa.Index("idx_executions_status", "status", "created_at"),
    sa.Index("idx_executions_run", "run_id"),
    sa.Index("idx_executions_created", "created_at"),
    tier=Tier.BASIC,
    spec=SPEC,
)

core_data_manifests = table(
    "core_data_manifests",
    ulid_pk(),
    sa.Column("domain", sa.String(200), nullable=False),
    sa.Column("partition_key", keyed_text(500), nullable=False),
    sa.Column("stage", sa.String(50), nullable=False),
    sa.Column("capture_id", sa.String(100), nullable=False),
    sa.Column("row_count", sa.Integer),
    sa.Column("byte_count", sa.BigInteger),
    sa.Column("content_hash", sa.String(128)),
    sa.Column("source_fetch_id", sa.String(26)),
    sa.Column(
        "execution_id", sa.String(26), sa.ForeignKey("core_executions.id", ondelete="SET NULL")
    ),
    sa.Column("run_id", sa.String(26)),
    json_col("metadata_json"),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.UniqueConstraint(
        "domain", "partition_key", "stage", "capture_id", name="uq_data_manifests_capture"
    ),
    sa.Index("idx_data_manifests_partition", "domain", "partition_key", "stage", "created_at"),
    sa.Index("idx_data_manifests_execution", "execution_id"),
    tier=Tier.BASIC,
    spec=SPEC,
)

LOAD_STATUSES = ("RUNNING", "COMPLETED", "FAILED", "SKIPPED")

core_load_records = table(
    "core_load_records",
    ulid_pk(),
    sa.Column(
        "manifest_id", sa.String(26), sa.ForeignKey("core_data_manifests.id", ondelete="CASCADE")
    ),
    sa.Column("domain", sa.String(200), nullable=False),
    sa.Column("target_table", sa.String(200), nullable=False),
    sa.Column("partition_key", keyed_text(500)),
    sa.Column("capture_id", sa.String(100)),
    sa.Column("status", sa.String(20), nullable=False),
    counter("rows_read"),
    counter("rows_inserted"),
    counter("rows_updated"),
    counter("rows_rejected"),
    json_col("rejects"),
    sa.Column("error", sa.Text),
    sa.Column(
        "execution_id", sa.String(26), sa.ForeignKey("core_executions.id", ondelete="SET NULL")
    ),
    sa.Column("run_id", sa.String(26)),
    ts("started_at"),
    ts("completed_at"),
    sa.Column("duration_ms", sa.BigInteger),
    ts("created_at", nullable=False),
    one_of("status", LOAD_STATUSES, "status"),
    sa.Index("idx_load_records_manifest", "manifest_id"),
    sa.Index("idx_load_records_table", "target_table", "created_at"),
    sa.Index("idx_load_records_execution", "execution_id"),
    tier=Tier.BASIC,
    spec=SPEC,
)

CHECK_STATUSES = ("PASS", "WARN", "FAIL", "ERROR")

core_quality_checks = table(
    "core_quality_checks",
    ulid_pk(),
    sa.Column("check_name", sa.String(200), nullable=False),
    sa.Column("domain", sa.String(200)),
    sa.Column("partition_key", keyed_text(500)),
    sa.Column("capture_id", sa.String(100)),
    sa.Column("target", sa.String(200)),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False, server_default="ERROR"),
    sa.Column("metric_value", sa.Float),
    sa.Column("threshold", sa.Float),
    sa.Column("message", sa.Text),
    json_col("details"),
    sa.Column(
        "manifest_id", sa.String(26), sa.ForeignKey("core_data_manifests.id", ondelete="SET NULL")
    ),
    sa.Column(
        "execution_id", sa.String(26), sa.ForeignKey("core_executions.id", ondelete="SET NULL")
    ),
    sa.Column("run_id", sa.String(26)),
    ts("checked_at", nullable=False),
    one_of("status", CHECK_STATUSES, "status"),
    sa.Index("idx_quality_checks_partition", "domain", "partition_key", "checked_at"),
    sa.Index("idx_quality_checks_name", "check_name", "checked_at"),
    sa.Index(
        "idx_quality_checks_failed",
        "checked_at",
        sqlite_where=sa.text("status IN ('FAIL', 'ERROR')"),
        postgresql_where=sa.text("status IN ('FAIL', 'ERROR')"),
    ),
    tier=Tier.BASIC,
    spec=SPEC,
)

ANOMALY_STATUSES = ("OPEN", "ACKNOWLEDGED", "RESOLVED", "IGNORED")

core_anomalies = table(
    "core_anomalies",
    ulid_pk(),
    sa.Column("domain", sa.String(200)),
    sa.Column("partition_key", keyed_text(500)),
    sa.Column("capture_id", sa.String(100)),
    sa.Column(
        "quality_check_id",
        sa.String(26),
        sa.ForeignKey("core_quality_checks.id", ondelete="SET NULL"),
    ),
    sa.Column("anomaly_type", sa.String(100), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="OPEN"),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("metric_value", sa.Float),
    sa.Column("expected_value", sa.Float),
    json_col("details"),
    ts("detected_at", nullable=False),
    ts("resolved_at"),
    one_of("status", ANOMALY_STATUSES, "status"),
    sa.Index("idx_anomalies_partition", "domain", "partition_key", "detected_at"),
    sa.Index(
        "idx_anomalies_open",
        "detected_at",
        sqlite_where=sa.text("status = 'OPEN'"),
        postgresql_where=sa.text("status = 'OPEN'"),
    ),
    tier=Tier.BASIC,
    spec=SPEC,
)
