"""The schema keeps its promises on SQLite and PostgreSQL: keys, cascades, types, views."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from spine.core.ids import new_id
from spine.core.storage import Database
from spine.core.storage.schema import (
    CORE_SCHEMA,
    WORKFLOW_SCHEMA,
    alerting,
    automation,
    dq_platform,
    metadata,
    scheduler,
)
from spine.core.storage.schema import workflow_history as wh
from spine.core.storage.types import JSONType, UtcDateTime
from tests.core.storage.factories import (
    NOW,
    add_alert,
    add_automation_alert,
    add_channel,
    add_check,
    add_delivery,
    add_event,
    add_incident,
    add_run,
    add_schedule,
    add_schedule_run,
    add_source,
    add_step,
    add_user,
)


def count(db: Database, table: sa.Table, where: sa.ColumnElement[bool] | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    if where is not None:
        query = query.where(where)
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


def as_json(value: Any) -> Any:
    """A JSON column read through a view: parsed on PostgreSQL, text on SQLite."""
    return json.loads(value) if isinstance(value, str) else value


def as_time(value: Any) -> datetime:
    """A timestamp read through a view: a datetime on PostgreSQL, ISO text on SQLite."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


# --- unique constraints -------------------------------------------------------------


def test_second_step_row_for_the_same_attempt_is_refused(db: Database) -> None:
    with db.write() as conn:
        run_id = add_run(conn)
        add_step(conn, run_id, step_name="fetch", attempt=1)
        add_step(conn, run_id, step_name="fetch", attempt=2)
        add_step(conn, run_id, step_name="parse", attempt=1)

    with pytest.raises(sa.exc.IntegrityError, match=r"(?i)unique"), db.write() as conn:
        add_step(conn, run_id, step_name="fetch", attempt=2)

    assert count(db, wh.core_workflow_steps) == 3


def test_second_delivery_row_for_the_same_attempt_is_refused(db: Database) -> None:
    with db.write() as conn:
        alert_id, channel_id = add_alert(conn), add_channel(conn)
        add_delivery(conn, alert_id, channel_id, attempt=1)
        add_delivery(conn, alert_id, channel_id, attempt=2)

    with pytest.raises(sa.exc.IntegrityError, match=r"(?i)unique"), db.write() as conn:
        add_delivery(conn, alert_id, channel_id, attempt=1)

    assert count(db, alerting.core_alert_deliveries) == 2


def test_event_with_a_used_idempotency_key_is_refused(db: Database) -> None:
    with db.write() as conn:
        run_id = add_run(conn)
        add_event(conn, run_id, idempotency_key=f"{run_id}:started")

    with pytest.raises(sa.exc.IntegrityError, match=r"(?i)unique"), db.write() as conn:
        add_event(conn, run_id, event_type="RUN_COMPLETED", idempotency_key=f"{run_id}:started")

    assert count(db, wh.core_workflow_events) == 1


def test_second_open_incident_for_a_check_is_refused(db: Database) -> None:
    with db.write() as conn:
        check_id = add_check(conn)
        add_incident(conn, check_id, "open")

    for second in ("open", "acknowledged"):
        with pytest.raises(sa.exc.IntegrityError, match=r"(?i)unique"), db.write() as conn:
            add_incident(conn, check_id, second)

    assert count(db, dq_platform.incidents) == 1


def test_resolved_incidents_do_not_block_a_new_open_one(db: Database) -> None:
    with db.write() as conn:
        check_id, other_check_id = add_check(conn), add_check(conn)
        add_incident(conn, check_id, "resolved")
        add_incident(conn, check_id, "resolved")
        add_incident(conn, check_id, "open")
        add_incident(conn, other_check_id, "acknowledged")

    assert count(db, dq_platform.incidents) == 4


# --- foreign keys ---------------------------------------------------------------------


def test_deleting_a_run_deletes_its_steps_and_events(db: Database) -> None:
    with db.write() as conn:
        run_id, kept_run_id = add_run(conn), add_run(conn)
        step_id = add_step(conn, run_id)
        add_event(conn, run_id)
        add_event(conn, run_id, step_id=step_id, event_type="STEP_STARTED")
        add_step(conn, kept_run_id)
        add_event(conn, kept_run_id)

    with db.write() as conn:
        conn.execute(
            sa.delete(wh.core_workflow_runs).where(wh.core_workflow_runs.c.run_id == run_id)
        )

    assert count(db, wh.core_workflow_steps, wh.core_workflow_steps.c.run_id == run_id) == 0
    assert count(db, wh.core_workflow_events, wh.core_workflow_events.c.run_id == run_id) == 0
    assert count(db, wh.core_workflow_steps) == 1
    assert count(db, wh.core_workflow_events) == 1


def test_deleting_a_schedule_deletes_its_schedule_runs(db: Database) -> None:
    with db.write() as conn:
        schedule_id, kept_id = add_schedule(conn), add_schedule(conn)
        add_schedule_run(conn, schedule_id, scheduled_at=NOW)
        add_schedule_run(conn, schedule_id, scheduled_at=NOW + timedelta(hours=2))
        add_schedule_run(conn, kept_id)

    with db.write() as conn:
        table = scheduler.core_schedules
        conn.execute(sa.delete(table).where(table.c.id == schedule_id))

    runs = scheduler.core_schedule_runs
    assert count(db, runs, runs.c.schedule_id == schedule_id) == 0
    assert count(db, runs) == 1


def test_deleting_an_alert_deletes_its_deliveries(db: Database) -> None:
    with db.write() as conn:
        alert_id, kept_id, channel_id = add_alert(conn), add_alert(conn), add_channel(conn)
        add_delivery(conn, alert_id, channel_id)
        add_delivery(conn, alert_id, channel_id, attempt=2)
        add_delivery(conn, kept_id, channel_id)

    with db.write() as conn:
        conn.execute(sa.delete(alerting.core_alerts).where(alerting.core_alerts.c.id == alert_id))

    deliveries = alerting.core_alert_deliveries
    assert count(db, deliveries, deliveries.c.alert_id == alert_id) == 0
    assert count(db, deliveries) == 1


def test_deleting_an_automation_alert_deletes_its_recipients_and_acknowledgments(
    db: Database,
) -> None:
    with db.write() as conn:
        user = add_user(conn)
        alert, kept = add_automation_alert(conn), add_automation_alert(conn)
        for target in (alert, kept):
            conn.execute(
                sa.insert(automation.alert_recipients).values(
                    id=uuid.uuid4(),
                    alert_id=target,
                    recipient_type="user",
                    recipient_id=user,
                    created_date=NOW,
                )
            )
            conn.execute(
                sa.insert(automation.alert_acknowledgments).values(
                    id=uuid.uuid4(), alert_id=target, acknowledged_by=user, acknowledged_date=NOW
                )
            )

    with db.write() as conn:
        conn.execute(sa.delete(automation.alerts).where(automation.alerts.c.id == alert))

    recipients, acks = automation.alert_recipients, automation.alert_acknowledgments
    assert count(db, recipients, recipients.c.alert_id == alert) == 0
    assert count(db, acks, acks.c.alert_id == alert) == 0
    assert count(db, recipients) == 1
    assert count(db, acks) == 1


def test_step_of_a_missing_run_is_refused(db: Database) -> None:
    with pytest.raises(sa.exc.IntegrityError, match=r"(?i)foreign key"), db.write() as conn:
        add_step(conn, new_id())

    assert count(db, wh.core_workflow_steps) == 0


# --- CHECK constraints ----------------------------------------------------------------

UNKNOWN_STATUS: dict[str, Callable[[sa.Connection], object]] = {
    "run": lambda conn: add_run(conn, status="DONE"),
    "step": lambda conn: add_step(conn, add_run(conn), status="DONE"),
    "delivery": lambda conn: add_delivery(
        conn, add_alert(conn), add_channel(conn), status="DELIVERED"
    ),
    "incident": lambda conn: add_incident(conn, add_check(conn), "closed"),
    "schedule type": lambda conn: add_schedule(conn, schedule_type="weekly"),
}


def test_unknown_status_is_refused(db: Database) -> None:
    refused = []
    for kind, insert in UNKNOWN_STATUS.items():
        try:
            with db.write() as conn:
                insert(conn)
        except sa.exc.IntegrityError as error:
            if "check" in str(error.orig).lower():
                refused.append(kind)

    assert refused == list(UNKNOWN_STATUS)


# --- types ----------------------------------------------------------------------------


def test_timestamps_come_back_as_the_same_instant_in_aware_utc(db: Database) -> None:
    paris_evening = datetime(2025, 1, 10, 19, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))
    naive_taken_as_utc = datetime(2025, 1, 10, 18, 0)
    with db.write() as conn:
        aware_id = add_run(conn, created_at=paris_evening, started_at=paris_evening)
        naive_id = add_run(conn, created_at=naive_taken_as_utc)

    runs = wh.core_workflow_runs
    with db.read() as conn:
        aware = conn.execute(sa.select(runs).where(runs.c.run_id == aware_id)).one()
        naive = conn.execute(sa.select(runs).where(runs.c.run_id == naive_id)).one()

    assert aware.created_at == paris_evening
    assert aware.created_at.utcoffset() == timedelta(0)
    assert aware.created_at.tzinfo is UTC
    assert aware.created_at.hour == 18
    assert aware.completed_at is None
    assert naive.created_at == naive_taken_as_utc.replace(tzinfo=UTC)
    assert naive.created_at.tzinfo is UTC


def test_timestamps_sort_in_time_order_in_sql(db: Database) -> None:
    instants = [
        NOW - timedelta(days=400),
        NOW - timedelta(microseconds=1),
        NOW,
        NOW + timedelta(microseconds=1),
        NOW + timedelta(seconds=1),
        # Later in UTC, but "earlier" by local wall-clock text (11:30+05:00 is 06:30Z).
        datetime(2025, 1, 11, 11, 30, tzinfo=timezone(timedelta(hours=5))),
        NOW + timedelta(days=3650),
    ]
    inserted: list[tuple[datetime, str]] = []
    with db.write() as conn:
        for instant in reversed(instants):
            inserted.append((instant, add_run(conn, created_at=instant)))

    runs = wh.core_workflow_runs
    with db.read() as conn:
        ordered = list(conn.execute(sa.select(runs.c.run_id).order_by(runs.c.created_at)).scalars())
        later = conn.execute(
            sa.select(sa.func.count()).where(runs.c.created_at > NOW + timedelta(microseconds=1))
        ).scalar_one()

    assert ordered == [run_id for _, run_id in sorted(inserted)]
    assert later == 3


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_stores_timestamps_as_fixed_width_utc_text(db: Database) -> None:
    with db.write() as conn:
        whole = add_run(conn, created_at=datetime(2025, 1, 10, 13, 0, tzinfo=UTC))
        offset = add_run(
            conn,
            created_at=datetime(2025, 1, 10, 9, 5, 7, 42, tzinfo=timezone(-timedelta(hours=5))),
        )

    with db.read() as conn:
        raw = dict(conn.execute(sa.text("SELECT run_id, created_at FROM core_workflow_runs")).all())

    assert raw[whole] == "2025-01-10T13:00:00.000000+00:00"
    assert raw[offset] == "2025-01-10T14:05:07.000042+00:00"


def test_json_columns_round_trip_documents(db: Database) -> None:
    params = {
        "week_ending": "2025-01-10",
        "tier": "T1",
        "symbols": ["AAPL", "MSFT"],
        "limits": {"max_rows": 1_000_000, "ratio": 0.25, "strict": True, "fallback": None},
        "note": "Zürich — 東京",
    }
    with db.write() as conn:
        with_doc = add_run(conn, params=params, outputs={})
        without = add_run(conn, params=None)

    runs = wh.core_workflow_runs
    with db.read() as conn:
        stored = conn.execute(
            sa.select(runs.c.params, runs.c.outputs).where(runs.c.run_id == with_doc)
        ).one()
        nulls = conn.execute(
            sa.select(sa.func.count()).where(runs.c.params.is_(None), runs.c.run_id == without)
        ).scalar_one()

    assert stored.params == params
    assert stored.outputs == {}
    # Python None is SQL NULL, not the JSON text 'null'.
    assert nulls == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_stores_json_as_jsonb_and_timestamps_as_timestamptz(db: Database) -> None:
    expected: dict[tuple[str, str, str], str] = {}
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, JSONType):
                expected[(table.schema or "public", table.name, column.name)] = "jsonb"
            elif isinstance(column.type, UtcDateTime):
                expected[(table.schema or "public", table.name, column.name)] = (
                    "timestamp with time zone"
                )

    with db.read() as conn:
        actual = {
            (row.table_schema, row.table_name, row.column_name): row.data_type
            for row in conn.execute(
                sa.text(
                    "SELECT table_schema, table_name, column_name, data_type "
                    "FROM information_schema.columns "
                    "WHERE table_schema IN ('public', 'workflow', 'core')"
                )
            )
        }

    assert len(expected) > 100
    assert {key: actual.get(key) for key in expected} == expected


def test_spec_003_tables_are_in_schemas_workflow_and_core_on_postgresql_plain_on_sqlite(
    db: Database, backend: str
) -> None:
    workflow_tables = {t.name for t in metadata.sorted_tables if t.schema == WORKFLOW_SCHEMA}
    assert {"automation_rules", "rule_actions", "alerts", "alert_recipients"} <= workflow_tables
    inspector = sa.inspect(db.engine)

    if backend == "postgresql":
        assert set(inspector.get_table_names(schema=WORKFLOW_SCHEMA)) == workflow_tables
        assert set(inspector.get_table_names(schema=CORE_SCHEMA)) == {
            "users",
            "roles",
            "user_roles",
        }
        assert not workflow_tables & set(inspector.get_table_names())
    else:
        assert workflow_tables | {"users"} <= set(inspector.get_table_names())


# --- legacy views ---------------------------------------------------------------------


def test_workflow_views_show_runs_and_steps_under_spec_002_names(db: Database) -> None:
    with db.write() as conn:
        run_id = add_run(
            conn, status="COMPLETED", params={"tier": "T1"}, triggered_by="schedule", started_at=NOW
        )
        step_id = add_step(
            conn,
            run_id,
            step_name="parse",
            status="COMPLETED",
            params={"path": "otc.psv"},
            outputs={"rows": 3},
            row_count=1234,
            quality_passed=True,
        )

    with db.read() as conn:
        run = conn.execute(
            sa.text("SELECT * FROM workflow_runs WHERE run_id = :id"), {"id": run_id}
        ).one()
        step = conn.execute(
            sa.text("SELECT * FROM workflow_step_runs WHERE run_id = :id"), {"id": run_id}
        ).one()

    assert (run.workflow_name, run.status, run.triggered_by) == (
        "finra.weekly_ingest",
        "COMPLETED",
        "schedule",
    )
    assert as_json(run.params) == {"tier": "T1"}
    assert as_time(run.started_at) == NOW
    assert (step.step_id, step.step_name, step.records_processed) == (step_id, "parse", 1234)
    assert as_json(step.input_params) == {"path": "otc.psv"}
    assert as_json(step.output_data) == {"rows": 3}
    assert bool(step.quality_passed) is True


def test_scheduler_views_show_schedules_and_fires_under_spec_001_names(db: Database) -> None:
    with db.write() as conn:
        run_id = add_run(conn)
        schedule_id = add_schedule(
            conn, name="weekly", target_name="finra.weekly_ingest", interval_seconds=7200
        )
        fire_id = add_schedule_run(
            conn, schedule_id, schedule_name="weekly", status="COMPLETED", run_id=run_id
        )

    with db.read() as conn:
        schedule = conn.execute(sa.text("SELECT * FROM scheduler_schedules")).one()
        fire = conn.execute(sa.text("SELECT * FROM scheduler_runs")).one()

    assert (schedule.name, schedule.pipeline, schedule.schedule_type) == (
        "weekly",
        "finra.weekly_ingest",
        "interval",
    )
    assert (schedule.interval_minutes, schedule.interval_hours) == (120, 2)
    assert bool(schedule.enabled) is True
    assert (fire.run_id, fire.schedule_name, fire.pipeline, fire.status, fire.result) == (
        fire_id,
        "weekly",
        "finra.weekly_ingest",
        "completed",
        run_id,
    )


def test_source_config_view_shows_sources_under_spec_001_names(db: Database) -> None:
    with db.write() as conn:
        source_id = add_source(conn, name="finra-otc", config_json={"url": "https://x.test/a"})

    with db.read() as conn:
        row = conn.execute(sa.text("SELECT * FROM core_source_configs")).one()

    assert (row.source_id, row.name, row.source_type) == (source_id, "finra-otc", "http")
    assert as_json(row.config) == {"url": "https://x.test/a"}


def test_alert_history_view_shows_attempted_deliveries_under_spec_001_names(
    db: Database,
) -> None:
    sent_at = NOW + timedelta(seconds=5)
    with db.write() as conn:
        alert_id = add_alert(conn, title="ingest failed", metadata_json={"run": "r1"})
        slack, mail, pager = (add_channel(conn) for _ in range(3))
        add_delivery(
            conn, alert_id, slack, channel_name="slack", status="SENT", delivered_at=sent_at
        )
        add_delivery(
            conn, alert_id, mail, channel_name="email", status="FAILED", attempted_at=sent_at
        )
        add_delivery(conn, alert_id, pager, channel_name="pager", status="PENDING")

    with db.read() as conn:
        rows = {
            row.channel: row
            for row in conn.execute(
                sa.text("SELECT * FROM alert_history WHERE alert_id = :id"), {"id": alert_id}
            )
        }

    assert set(rows) == {"slack", "email"}
    assert (rows["slack"].success, rows["email"].success) == (1, 0)
    assert as_time(rows["slack"].sent_at) == sent_at
    assert rows["slack"].title == "ingest failed"
    assert as_json(rows["slack"].metadata) == {"run": "r1"}
