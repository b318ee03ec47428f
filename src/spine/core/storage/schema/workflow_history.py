"""Spec 000, ``02_workflow_history.sql``: workflow runs, their steps and their events.

Columns beyond spec 000 (see ``docs/decisions.md``): spec 002's ``metrics`` on runs and
``quality_passed`` / ``quality_metrics`` on steps; the durable runner's lease
(``lease_owner``, ``lease_expires_at``), wake-up time (``wake_at``, for waits and retry
back-off), cancellation request and ``updated_at`` on runs; a failed attempt's
``error_traceback`` on steps, and the ``ctx.log`` lines of each attempt in
``core_workflow_step_logs``.
"""

from __future__ import annotations

import sqlalchemy as sa

from spine.core.storage.schema._base import (
    Tier,
    counter,
    json_col,
    one_of,
    table,
    ts,
    ulid_pk,
    workspace_ref,
)
from spine.core.storage.types import keyed_text
from spine.core.workspaces import DEFAULT_WORKSPACE_ID

SPEC = "000"

RUN_STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
STEP_STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "SKIPPED")
TRIGGERS = ("manual", "schedule", "api", "parent_workflow", "automation", "worker")

core_workflow_runs = table(
    "core_workflow_runs",
    ulid_pk("run_id"),
    sa.Column("workflow_name", sa.String(200), nullable=False),
    sa.Column("workflow_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("domain", sa.String(200)),
    sa.Column("partition_key", keyed_text(500)),
    sa.Column("status", sa.String(20), nullable=False, server_default="PENDING"),
    ts("started_at"),
    ts("completed_at"),
    sa.Column("duration_ms", sa.BigInteger),
    json_col("params"),
    json_col("outputs"),
    sa.Column("error", sa.Text),
    sa.Column("error_category", sa.String(50)),
    sa.Column("error_retryable", sa.Boolean),
    counter("total_steps"),
    counter("completed_steps"),
    counter("failed_steps"),
    counter("skipped_steps"),
    sa.Column("triggered_by", sa.String(50), nullable=False, server_default="manual"),
    sa.Column(
        "parent_run_id",
        sa.String(26),
        sa.ForeignKey("core_workflow_runs.run_id", ondelete="SET NULL"),
    ),
    sa.Column(
        "schedule_id", sa.String(26), sa.ForeignKey("core_schedules.id", ondelete="SET NULL")
    ),
    ts("created_at", nullable=False),
    sa.Column("created_by", sa.String(200)),
    sa.Column("capture_id", sa.String(100)),
    # Added by spine (docs/decisions.md).
    json_col("metrics"),
    sa.Column("lease_owner", sa.String(200)),
    ts("lease_expires_at"),
    ts("wake_at"),
    ts("cancel_requested_at"),
    ts("updated_at"),
    # The caller's key for this start: one run per workflow and key (docs/decisions.md).
    sa.Column("idempotency_key", sa.String(255)),
    workspace_ref(),
    one_of("status", RUN_STATUSES, "status"),
    sa.Index("idx_workflow_runs_workspace", "workspace_id", "created_at"),
    sa.Index("idx_workflow_runs_status", "status", "created_at"),
    sa.Index("idx_workflow_runs_name", "workflow_name", "created_at"),
    sa.Index("idx_workflow_runs_domain", "domain", "created_at"),
    sa.Index("idx_workflow_runs_started", "started_at"),
    sa.Index("idx_workflow_runs_created", "created_at"),
    sa.Index(
        "idx_workflow_runs_failed",
        "status",
        "created_at",
        sqlite_where=sa.text("status = 'FAILED'"),
        postgresql_where=sa.text("status = 'FAILED'"),
    ),
    sa.Index("idx_workflow_runs_parent", "parent_run_id"),
    sa.Index("idx_workflow_runs_schedule", "schedule_id"),
    # What a worker looks for: runs that are not finished, by when they are due.
    sa.Index(
        "idx_workflow_runs_claimable",
        "wake_at",
        sqlite_where=sa.text("status IN ('PENDING', 'RUNNING')"),
        postgresql_where=sa.text("status IN ('PENDING', 'RUNNING')"),
    ),
    # The dashboard's pages of runs, newest created first, in a workspace, of one status
    # or workflow; run_id breaks ties in the page cursor (intermediate_0009).
    sa.Index("idx_workflow_runs_page_status", "workspace_id", "status", "created_at", "run_id"),
    sa.Index(
        "idx_workflow_runs_page_name", "workspace_id", "workflow_name", "created_at", "run_id"
    ),
    sa.Index(
        "uq_workflow_runs_idempotency",
        "workspace_id",
        "workflow_name",
        "idempotency_key",
        unique=True,
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    ),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

core_workflow_steps = table(
    "core_workflow_steps",
    ulid_pk("step_id"),
    sa.Column(
        "run_id",
        sa.String(26),
        sa.ForeignKey("core_workflow_runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("step_name", sa.String(200), nullable=False),
    sa.Column("step_type", sa.String(50), nullable=False),
    sa.Column("step_order", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="PENDING"),
    ts("started_at"),
    ts("completed_at"),
    sa.Column("duration_ms", sa.BigInteger),
    json_col("params"),
    json_col("outputs"),
    sa.Column("error", sa.Text),
    sa.Column("error_category", sa.String(50)),
    sa.Column("row_count", sa.Integer),
    json_col("metrics"),
    counter("attempt", 1),
    counter("max_attempts", 1),
    sa.Column(
        "execution_id", sa.String(26), sa.ForeignKey("core_executions.id", ondelete="SET NULL")
    ),
    # Spec 002's StepRun fields (docs/decisions.md).
    sa.Column("quality_passed", sa.Boolean),
    json_col("quality_metrics"),
    # A failed attempt's traceback, spine's own frames trimmed (docs/decisions.md).
    sa.Column("error_traceback", sa.Text),
    one_of("status", STEP_STATUSES, "status"),
    sa.UniqueConstraint("run_id", "step_name", "attempt", name="uq_workflow_steps_attempt"),
    sa.Index("idx_workflow_steps_run", "run_id", "step_order"),
    # No index on status or started_at alone: no query reads steps across runs by them
    # (failures have idx_workflow_steps_failed), and every step paid for both twice.
    sa.Index("idx_workflow_steps_execution", "execution_id"),
    sa.Index(
        "idx_workflow_steps_failed",
        "status",
        "started_at",
        sqlite_where=sa.text("status = 'FAILED'"),
        postgresql_where=sa.text("status = 'FAILED'"),
    ),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

core_workflow_events = table(
    "core_workflow_events",
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.Identity(), primary_key=True
    ),
    sa.Column(
        "run_id",
        sa.String(26),
        sa.ForeignKey("core_workflow_runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "step_id", sa.String(26), sa.ForeignKey("core_workflow_steps.step_id", ondelete="CASCADE")
    ),
    sa.Column("event_type", sa.String(50), nullable=False),
    ts("timestamp", nullable=False),
    json_col("payload"),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.UniqueConstraint("idempotency_key", name="uq_workflow_events_idempotency_key"),
    sa.Index("idx_workflow_events_run", "run_id", "id"),
    sa.Index("idx_workflow_events_step", "step_id"),
    # No index on timestamp: events are read by run (idx_workflow_events_run); the
    # step index stays, for the foreign key's cascade from steps.
    # Ids only grow, even after the newest events are deleted: ids order events.
    sqlite_autoincrement=True,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

# Added by spine (docs/decisions.md): run counts and durations per workflow, UTC day of
# creation and status, kept in the same transaction as every status change, so that
# `runs stats` reads a few thousand rows instead of scanning every run.
core_workflow_run_stats = table(
    "core_workflow_run_stats",
    sa.Column(
        "workspace_id",
        sa.Uuid,
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
        server_default=sa.text(f"'{DEFAULT_WORKSPACE_ID.hex}'"),
    ),
    sa.Column("workflow_name", sa.String(200), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("status", sa.String(20), primary_key=True),
    sa.Column("run_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("duration_ms_sum", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("duration_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("idx_workflow_run_stats_day", "day"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

# Added by spine (docs/decisions.md): the `ctx.log` lines of one step attempt, bounded,
# written in the transaction that records the attempt's end (one row per attempt that
# logged anything), and deleted with its run.
core_workflow_step_logs = table(
    "core_workflow_step_logs",
    sa.Column(
        "step_id",
        sa.String(26),
        sa.ForeignKey("core_workflow_steps.step_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "run_id",
        sa.String(26),
        sa.ForeignKey("core_workflow_runs.run_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("step_name", sa.String(200), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    # [[time ISO, level name, message], ...]: the first and the last lines kept.
    json_col("lines", nullable=False),
    counter("dropped_lines"),
    sa.Index("idx_workflow_step_logs_run", "run_id", "step_name", "attempt"),
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)
