"""Rows for schema tests: each helper inserts one valid row (overridable) and returns its id."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any, NoReturn

import psycopg
import sqlalchemy as sa
from sqlalchemy import exc

from spine.core.ids import new_id
from spine.core.storage import Database
from spine.core.storage.schema import alerting, automation, dq_platform, scheduler, sources
from spine.core.storage.schema import workflow_history as wh

NOW = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


def _insert(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> None:
    conn.execute(sa.insert(table).values(values))


def add_run(conn: sa.Connection, **overrides: Any) -> str:
    values = {
        "run_id": new_id(),
        "workflow_name": "finra.weekly_ingest",
        "domain": "finra.otc_transparency",
        "partition_key": '{"week_ending": "2025-01-10", "tier": "T1"}',
        "created_at": NOW,
        **overrides,
    }
    _insert(conn, wh.core_workflow_runs, values)
    return str(values["run_id"])


def add_step(conn: sa.Connection, run_id: str, **overrides: Any) -> str:
    values = {
        "step_id": new_id(),
        "run_id": run_id,
        "step_name": "fetch",
        "step_type": "lambda",
        "step_order": 0,
        **overrides,
    }
    _insert(conn, wh.core_workflow_steps, values)
    return str(values["step_id"])


def add_event(conn: sa.Connection, run_id: str, **overrides: Any) -> str:
    values = {
        "run_id": run_id,
        "event_type": "RUN_STARTED",
        "timestamp": NOW,
        "idempotency_key": f"{run_id}:{new_id()}",
        **overrides,
    }
    _insert(conn, wh.core_workflow_events, values)
    return str(values["idempotency_key"])


def add_schedule(conn: sa.Connection, **overrides: Any) -> str:
    values = {
        "id": new_id(),
        "name": f"weekly-{new_id()}",
        "target_name": "finra.weekly_ingest",
        "schedule_type": "interval",
        "interval_seconds": 7200,
        "created_at": NOW,
        "updated_at": NOW,
        **overrides,
    }
    _insert(conn, scheduler.core_schedules, values)
    return str(values["id"])


def add_schedule_run(conn: sa.Connection, schedule_id: str, **overrides: Any) -> str:
    values = {
        "id": new_id(),
        "schedule_id": schedule_id,
        "schedule_name": "weekly",
        "scheduled_at": NOW,
        **overrides,
    }
    _insert(conn, scheduler.core_schedule_runs, values)
    return str(values["id"])


def add_channel(conn: sa.Connection, **overrides: Any) -> str:
    values = {
        "id": new_id(),
        "name": f"ops-{new_id()}",
        "channel_type": "webhook",
        "config_json": {"url": "https://hooks.example.com/spine"},
        "created_at": NOW,
        "updated_at": NOW,
        **overrides,
    }
    _insert(conn, alerting.core_alert_channels, values)
    return str(values["id"])


def add_alert(conn: sa.Connection, **overrides: Any) -> str:
    values = {
        "id": new_id(),
        "severity": "ERROR",
        "title": "finra.weekly_ingest failed",
        "message": "fetch: 503 from FINRA",
        "source": "orchestration",
        "created_at": NOW,
        **overrides,
    }
    _insert(conn, alerting.core_alerts, values)
    return str(values["id"])


def add_delivery(conn: sa.Connection, alert_id: str, channel_id: str, **overrides: Any) -> str:
    values = {
        "id": new_id(),
        "alert_id": alert_id,
        "channel_id": channel_id,
        "channel_name": "ops",
        "attempt": 1,
        **overrides,
    }
    _insert(conn, alerting.core_alert_deliveries, values)
    return str(values["id"])


def add_source(conn: sa.Connection, **overrides: Any) -> str:
    values = {
        "id": new_id(),
        "name": f"finra-otc-{new_id()}",
        "source_type": "http",
        "config_json": {"url": "https://otctransparency.finra.org/weekly"},
        "created_at": NOW,
        "updated_at": NOW,
        **overrides,
    }
    _insert(conn, sources.core_sources, values)
    return str(values["id"])


def add_check(conn: sa.Connection) -> uuid.UUID:
    """A spec 004 check definition, with the organization, workspace and connection it needs."""
    org, workspace, connection, check = (uuid.uuid4() for _ in range(4))
    stamps = {"created_at": NOW, "updated_at": NOW}
    _insert(conn, dq_platform.organizations, {"id": org, "name": f"org-{org.hex}", **stamps})
    _insert(
        conn,
        dq_platform.workspaces,
        {"id": workspace, "organization_id": org, "name": "default", **stamps},
    )
    _insert(
        conn,
        dq_platform.connections,
        {
            "id": connection,
            "workspace_id": workspace,
            "name": "warehouse",
            "type": "postgresql",
            "config_encrypted": b"not-really-encrypted",
            **stamps,
        },
    )
    _insert(
        conn,
        dq_platform.check_definitions,
        {
            "id": check,
            "workspace_id": workspace,
            "connection_id": connection,
            "name": "otc rows present",
            "check_type": "row_count",
            "target_type": "table",
            "target_table": "otc_weekly",
            **stamps,
        },
    )
    return check


def add_incident(conn: sa.Connection, check_id: uuid.UUID, status: str) -> uuid.UUID:
    incident = uuid.uuid4()
    _insert(
        conn,
        dq_platform.incidents,
        {
            "id": incident,
            "check_id": check_id,
            "status": status,
            "severity": "error",
            "first_seen": NOW,
            "last_seen": NOW,
            "created_at": NOW,
            "updated_at": NOW,
        },
    )
    return incident


def add_check_result(conn: sa.Connection, check_id: uuid.UUID, executed_at: datetime) -> int:
    result = conn.execute(
        sa.insert(dq_platform.check_results)
        .values(check_id=check_id, executed_at=executed_at, rule_passed=False, severity="error")
        .returning(dq_platform.check_results.c.id)
    )
    return int(result.scalar_one())


def add_user(conn: sa.Connection) -> uuid.UUID:
    user = uuid.uuid4()
    _insert(
        conn,
        automation.users,
        {
            "id": user,
            "email": f"{user.hex}@example.com",
            "created_date": NOW,
            "updated_date": NOW,
        },
    )
    return user


def add_automation_alert(conn: sa.Connection) -> uuid.UUID:
    alert = uuid.uuid4()
    _insert(
        conn,
        automation.alerts,
        {
            "id": alert,
            "alert_type": "rule_failed",
            "title": "rule failed",
            "message": "otc_weekly has no rows",
            "created_date": NOW,
            "updated_date": NOW,
        },
    )
    return alert


def commit_then_lose_reply(db: Database, conn: sa.Connection) -> NoReturn:
    """COMMIT on the server, then fail as if the connection dropped before the reply.

    Called from a ``commit`` event listener: the write is in the database, and the caller
    sees the error a lost connection gives (the ambiguous COMMIT).
    """
    driver = conn.connection.driver_connection
    if db.is_sqlite:
        assert isinstance(driver, sqlite3.Connection)
        driver.execute("COMMIT")
        orig: Exception = sqlite3.OperationalError("disk I/O error")
    else:
        assert isinstance(driver, psycopg.Connection)
        driver.commit()
        orig = psycopg.OperationalError("server closed the connection unexpectedly")
    raise exc.OperationalError("COMMIT", None, orig, connection_invalidated=True)
