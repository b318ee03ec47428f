"""Read-only views under the table names of spec 001 and 002's earlier drafts.

SQL written against ``workflow_runs``, ``workflow_step_runs``, ``scheduler_schedules``,
``scheduler_runs``, ``core_source_configs`` or ``alert_history`` keeps reading, from the
canonical spec 000 tables, with the old column names.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from spine.core.storage.schema._base import Tier
from spine.core.storage.schema.alerting import core_alert_deliveries, core_alerts
from spine.core.storage.schema.scheduler import core_schedule_runs, core_schedules
from spine.core.storage.schema.sources import core_sources
from spine.core.storage.schema.workflow_history import core_workflow_runs, core_workflow_steps


@dataclass(frozen=True, slots=True)
class LegacyView:
    """A view: its name, its tier (that of the tables it reads) and its query."""

    name: str
    tier: Tier
    query: sa.Select[object]


def _views() -> list[LegacyView]:
    r, s = core_workflow_runs.c, core_workflow_steps.c
    sch, sr = core_schedules.c, core_schedule_runs.c
    src = core_sources.c
    a, d = core_alerts.c, core_alert_deliveries.c
    return [
        LegacyView(
            "workflow_runs",
            Tier.INTERMEDIATE,
            sa.select(
                r.run_id,
                r.workflow_name,
                r.domain,
                r.partition_key,
                r.status,
                r.started_at,
                r.completed_at,
                r.params,
                r.outputs,
                r.error,
                r.error_category,
                r.metrics,
                r.triggered_by,
                r.created_at,
            ),
        ),
        LegacyView(
            "workflow_step_runs",
            Tier.INTERMEDIATE,
            sa.select(
                s.step_id,
                s.run_id,
                s.step_name,
                s.step_type,
                s.step_order,
                s.status,
                s.started_at,
                s.completed_at,
                s.params.label("input_params"),
                s.outputs.label("output_data"),
                s.error,
                s.error_category,
                s.row_count.label("records_processed"),
                s.quality_passed,
                s.quality_metrics,
            ),
        ),
        LegacyView(
            "scheduler_schedules",
            Tier.INTERMEDIATE,
            sa.select(
                sch.name,
                sch.target_name.label("pipeline"),
                sch.schedule_type,
                sch.cron_expression,
                (sch.interval_seconds // 60).label("interval_minutes"),
                (sch.interval_seconds // 3600).label("interval_hours"),
                sch.run_at,
                sch.timezone,
                sch.params,
                sch.enabled,
                sch.max_instances,
                sch.created_at,
                sch.updated_at,
            ),
        ),
        LegacyView(
            "scheduler_runs",
            Tier.INTERMEDIATE,
            sa.select(
                sr.id.label("run_id"),
                sr.schedule_name,
                sch.target_name.label("pipeline"),
                sa.func.lower(sr.status).label("status"),
                sr.scheduled_at,
                sr.started_at,
                sr.completed_at,
                sr.error,
                sr.run_id.label("result"),
            ).select_from(core_schedule_runs.join(core_schedules)),
        ),
        LegacyView(
            "core_source_configs",
            Tier.INTERMEDIATE,
            sa.select(
                src.id.label("source_id"),
                src.source_type,
                src.name,
                src.config_json.label("config"),
                src.enabled,
                src.created_at,
                src.updated_at,
            ),
        ),
        LegacyView(
            "alert_history",
            Tier.INTERMEDIATE,
            sa.select(
                a.id.label("alert_id"),
                a.severity,
                a.title,
                a.message,
                a.source,
                a.execution_id,
                d.channel_name.label("channel"),
                sa.func.coalesce(d.delivered_at, d.attempted_at).label("sent_at"),
                sa.case((d.status == "SENT", 1), else_=0).label("success"),
                d.error,
                a.metadata_json.label("metadata"),
            )
            .select_from(core_alert_deliveries.join(core_alerts))
            .where(d.status.in_(("SENT", "FAILED"))),
        ),
    ]


LEGACY_VIEWS: tuple[LegacyView, ...] = tuple(_views())
