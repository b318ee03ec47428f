"""Spec 000, ``04_alerting.sql``: channels, alerts, one delivery row per attempt, throttle."""

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

SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")
DELIVERY_STATUSES = ("PENDING", "SENT", "FAILED", "THROTTLED")

core_alert_channels = table(
    "core_alert_channels",
    ulid_pk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("channel_type", sa.String(50), nullable=False),
    json_col("config_json", nullable=False),
    sa.Column("min_severity", sa.String(20), nullable=False, server_default="INFO"),
    json_col("domains"),
    flag("enabled", True),
    counter("throttle_minutes", 0),
    ts("last_success_at"),
    ts("last_failure_at"),
    counter("consecutive_failures"),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.Column("created_by", sa.String(200)),
    workspace_ref(),
    # Added by spine: a channel that delivers a spec 004 webhook names the events it
    # takes; such a channel is left out of routing by severity (docs/decisions.md).
    json_col("events"),
    sa.UniqueConstraint("workspace_id", "name", name="uq_alert_channels_workspace_name"),
    one_of("min_severity", SEVERITIES, "min_severity"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

core_alerts = table(
    "core_alerts",
    ulid_pk(),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("domain", sa.String(200)),
    sa.Column(
        "execution_id", sa.String(26), sa.ForeignKey("core_executions.id", ondelete="SET NULL")
    ),
    sa.Column(
        "run_id", sa.String(26), sa.ForeignKey("core_workflow_runs.run_id", ondelete="SET NULL")
    ),
    json_col("metadata_json"),
    sa.Column("error_category", sa.String(50)),
    ts("created_at", nullable=False),
    sa.Column("dedup_key", sa.String(128)),
    sa.Column("capture_id", sa.String(100)),
    workspace_ref(),
    one_of("severity", SEVERITIES, "severity"),
    sa.Index("idx_core_alerts_severity", "severity", "created_at"),
    sa.Index("idx_core_alerts_created", "created_at"),
    sa.Index("idx_core_alerts_source", "source"),
    sa.Index("idx_core_alerts_run", "run_id"),
    sa.Index("idx_core_alerts_dedup", "dedup_key"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

core_alert_deliveries = table(
    "core_alert_deliveries",
    ulid_pk(),
    sa.Column(
        "alert_id",
        sa.String(26),
        sa.ForeignKey("core_alerts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "channel_id",
        sa.String(26),
        # SET NULL: removing a channel keeps its delivery history (channel_name stays).
        sa.ForeignKey("core_alert_channels.id", ondelete="SET NULL"),
    ),
    sa.Column("channel_name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="PENDING"),
    ts("attempted_at"),
    ts("delivered_at"),
    json_col("response_json"),
    sa.Column("error", sa.Text),
    counter("attempt", 1),
    ts("next_retry_at"),
    one_of("status", DELIVERY_STATUSES, "status"),
    sa.UniqueConstraint("alert_id", "channel_id", "attempt", name="uq_alert_deliveries_attempt"),
    sa.Index("idx_alert_deliveries_status", "status"),
    sa.Index("idx_alert_deliveries_alert", "alert_id"),
    sa.Index("idx_alert_deliveries_channel", "channel_id"),
    sa.Index(
        "idx_alert_deliveries_retry",
        "next_retry_at",
        sqlite_where=sa.text("status = 'FAILED'"),
        postgresql_where=sa.text("status = 'FAILED'"),
    ),
    sa.Index(
        "idx_alert_deliveries_pending",
        "next_retry_at",
        sqlite_where=sa.text("status = 'PENDING'"),
        postgresql_where=sa.text("status = 'PENDING'"),
    ),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

core_alert_throttle = table(
    "core_alert_throttle",
    sa.Column("dedup_key", sa.String(128), primary_key=True),
    ts("last_sent_at", nullable=False),
    counter("send_count", 1),
    ts("expires_at", nullable=False),
    sa.Index("idx_alert_throttle_expires", "expires_at"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)
