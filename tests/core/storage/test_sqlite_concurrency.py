"""SQLite under load: many processes write to one file, and nothing is locked out or lost."""

from __future__ import annotations

import multiprocessing
import time
import traceback
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from spine.core.ids import new_id
from spine.core.storage import Database, EngineOptions, create_database
from spine.core.storage.schema.baseline import core_executions

WRITERS = 8
SECONDS = 10.0
COUNTER_ID = "0" * 26  # the shared counter row (row_count holds the count)

executions = core_executions


def hammer(url: str, writer: int, start: Any, results: Any) -> None:
    """One writer process: insert rows and bump the shared counter until time is up."""
    inserted: list[str] = []
    increments = 0
    errors: list[str] = []
    database = create_database(url)
    start.wait()  # every writer is imported and ready: all start together
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        try:
            row_id = new_id()
            database.run_write(
                lambda conn, row_id=row_id: conn.execute(
                    sa.insert(executions).values(
                        id=row_id,
                        pipeline_name=f"writer-{writer}",
                        created_at=datetime.now(UTC),
                    )
                )
            )
            inserted.append(row_id)
            database.run_write(bump_counter)
            increments += 1
        except Exception:
            errors.append(traceback.format_exc())
            if len(errors) > 5:
                break
    database.dispose()
    results.put((writer, inserted, increments, errors))


def bump_counter(conn: sa.Connection) -> None:
    """Read, add one, write back: loses updates unless writers are serialised."""
    current = conn.execute(
        sa.select(executions.c.row_count).where(executions.c.id == COUNTER_ID)
    ).scalar_one()
    conn.execute(
        sa.update(executions).where(executions.c.id == COUNTER_ID).values(row_count=current + 1)
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(db: Database) -> None:
    with db.read() as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
        foreign_keys = conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one()
        busy_timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()

    assert (journal, foreign_keys) == ("wal", 1)
    assert busy_timeout == EngineOptions().busy_timeout_ms > 0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_eight_processes_writing_for_ten_seconds_lose_nothing(db_url: str) -> None:
    database = create_database(db_url)
    with database.write() as conn:
        conn.execute(
            sa.insert(executions).values(
                id=COUNTER_ID, pipeline_name="counter", row_count=0, created_at=datetime.now(UTC)
            )
        )

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS, timeout=120)
    results = context.Queue()
    writers = [
        context.Process(target=hammer, args=(db_url, n, start, results)) for n in range(WRITERS)
    ]
    for process in writers:
        process.start()
    reports = [results.get(timeout=SECONDS + 120) for _ in writers]
    for process in writers:
        process.join(timeout=30)

    errors = [error for *_, found in reports for error in found]
    assert errors == []
    assert [process.exitcode for process in writers] == [0] * WRITERS
    inserted = {row_id for _, ids, _, _ in reports for row_id in ids}
    total_inserts = sum(len(ids) for _, ids, _, _ in reports)
    total_increments = sum(increments for _, _, increments, _ in reports)
    assert all(ids for _, ids, _, _ in reports), "every writer got some writes in"

    with database.read() as conn:
        stored = set(
            conn.execute(sa.select(executions.c.id).where(executions.c.id != COUNTER_ID)).scalars()
        )
        counter = conn.execute(
            sa.select(executions.c.row_count).where(executions.c.id == COUNTER_ID)
        ).scalar_one()
    database.dispose()

    assert len(inserted) == total_inserts
    assert stored == inserted
    assert counter == total_increments == total_inserts
