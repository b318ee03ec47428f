"""Moving to workspaces keeps every existing row, in the default workspace."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from spine.core.storage import Database
from spine.core.storage.migrator import Migrator
from spine.core.workspaces import DEFAULT_WORKSPACE_ID

NOW = datetime(2026, 1, 5, tzinfo=UTC).isoformat()


def _to(migrator: Migrator, revision: str) -> None:
    migrator._run(lambda cfg: command.upgrade(cfg, revision))


def _seed_before_workspaces(db: Database) -> None:
    stamp = NOW if db.is_sqlite else datetime(2026, 1, 5, tzinfo=UTC)
    rows = {
        "core_workflow_runs": {
            "run_id": "01JAAAAAAAAAAAAAAAAAAAAAAA",
            "workflow_name": "finra.weekly_ingest",
            "status": "COMPLETED",
            "triggered_by": "manual",
            "created_at": stamp,
        },
        "core_workflow_steps": {
            "step_id": "01JBBBBBBBBBBBBBBBBBBBBBBB",
            "run_id": "01JAAAAAAAAAAAAAAAAAAAAAAA",
            "step_name": "fetch",
            "step_type": "lambda",
            "step_order": 0,
            "status": "COMPLETED",
            "attempt": 1,
        },
        "core_schedules": {
            "id": "01JCCCCCCCCCCCCCCCCCCCCCCC",
            "name": "nightly",
            "target_name": "finra.weekly_ingest",
            "schedule_type": "cron",
            "cron_expression": "0 2 * * *",
            "created_at": stamp,
            "updated_at": stamp,
        },
    }
    with db.write() as conn:
        for table, values in rows.items():
            columns = ", ".join(values)
            marks = ", ".join(f":{c}" for c in values)
            conn.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)


def test_existing_rows_and_their_children_move_to_the_default_workspace(
    empty_db: Database,
) -> None:
    migrator = Migrator(empty_db)
    _to(migrator, "intermediate_0005")
    _seed_before_workspaces(empty_db)

    migrator.upgrade()

    with empty_db.read() as conn:
        runs = conn.execute(sa.text("SELECT workspace_id FROM core_workflow_runs")).all()
        steps = conn.execute(sa.text("SELECT count(*) FROM core_workflow_steps")).scalar()
        schedules = conn.execute(sa.text("SELECT workspace_id FROM core_schedules")).all()
        workspaces = conn.execute(sa.text("SELECT name FROM workspaces")).scalars().all()
    stored = {str(r[0]).replace("-", "") for r in [*runs, *schedules]}
    assert stored == {DEFAULT_WORKSPACE_ID.hex}
    # SQLite copies a table to alter it: the copy must not cascade to the steps.
    assert steps == 1
    assert workspaces == ["default"]


def test_downgrade_of_workspaces_keeps_the_rows(empty_db: Database) -> None:
    migrator = Migrator(empty_db)
    _to(migrator, "intermediate_0005")
    _seed_before_workspaces(empty_db)
    migrator.upgrade()

    migrator._run(lambda cfg: command.downgrade(cfg, "intermediate_0005"))

    with empty_db.read() as conn:
        steps = conn.execute(sa.text("SELECT count(*) FROM core_workflow_steps")).scalar()
        names = conn.execute(sa.text("SELECT name FROM core_schedules")).scalars().all()
    assert steps == 1
    assert names == ["nightly"]
