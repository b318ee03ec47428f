"""Spec 000, ``03_scheduler.sql``: schedules, their fires, and the locks between schedulers.

Added columns (``docs/decisions.md``): ``catchup`` and ``dst_policy`` on schedules,
the DST and catch-up rules of ``docs/scheduling.md``.
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
    ulid_pk,
    workspace_ref,
)

SPEC = "000"

SCHEDULE_TYPES = ("cron", "interval", "date")
SCHEDULE_RUN_STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "SKIPPED", "MISSED")

core_schedules = table(
    "core_schedules",
    ulid_pk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("target_type", sa.String(20), nullable=False, server_default="workflow"),
    sa.Column("target_name", sa.String(200), nullable=False),
    json_col("params"),
    sa.Column("schedule_type", sa.String(20), nullable=False),
    sa.Column("cron_expression", sa.String(200)),
    sa.Column("interval_seconds", sa.Integer),
    ts("run_at"),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    flag("enabled", True),
    counter("max_instances", 1),
    sa.Column("misfire_grace_seconds", sa.Integer),
    ts("last_run_at"),
    ts("next_run_at"),
    sa.Column("last_run_status", sa.String(20)),
    ts("created_at", nullable=False),
    ts("updated_at", nullable=False),
    sa.Column("created_by", sa.String(200)),
    counter("version", 1),
    # Added by spine (docs/decisions.md).
    sa.Column("catchup", sa.String(20), nullable=False, server_default="coalesce"),
    sa.Column("dst_policy", sa.String(50)),
    workspace_ref(),
    sa.UniqueConstraint("workspace_id", "name", name="uq_schedules_workspace_name"),
    one_of("schedule_type", SCHEDULE_TYPES, "schedule_type"),
    one_of("target_type", ("pipeline", "workflow"), "target_type"),
    sa.Index(
        "idx_schedules_due",
        "next_run_at",
        sqlite_where=sa.text("enabled = 1"),
        postgresql_where=sa.text("enabled = true"),
    ),
    sa.Index("idx_schedules_target", "target_name"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

core_schedule_runs = table(
    "core_schedule_runs",
    ulid_pk(),
    sa.Column(
        "schedule_id",
        sa.String(26),
        sa.ForeignKey("core_schedules.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("schedule_name", sa.String(200), nullable=False),
    ts("scheduled_at", nullable=False),
    ts("started_at"),
    ts("completed_at"),
    sa.Column("status", sa.String(20), nullable=False, server_default="PENDING"),
    sa.Column(
        "run_id", sa.String(26), sa.ForeignKey("core_workflow_runs.run_id", ondelete="SET NULL")
    ),
    sa.Column(
        "execution_id", sa.String(26), sa.ForeignKey("core_executions.id", ondelete="SET NULL")
    ),
    sa.Column("error", sa.Text),
    sa.Column("skip_reason", sa.Text),
    one_of("status", SCHEDULE_RUN_STATUSES, "status"),
    # One fire per schedule and instant, whatever the number of schedulers.
    sa.UniqueConstraint("schedule_id", "scheduled_at", name="uq_schedule_runs_fire"),
    sa.Index("idx_schedule_runs_status", "status"),
    sa.Index("idx_schedule_runs_scheduled", "scheduled_at"),
    sa.Index("idx_schedule_runs_run", "run_id"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

core_schedule_locks = table(
    "core_schedule_locks",
    sa.Column(
        "schedule_id",
        sa.String(26),
        sa.ForeignKey("core_schedules.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("locked_by", sa.String(200), nullable=False),
    ts("locked_at", nullable=False),
    ts("expires_at", nullable=False),
    sa.Index("idx_schedule_locks_expires", "expires_at"),
    tier=Tier.ADVANCED,
    spec=SPEC,
)
