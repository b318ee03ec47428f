"""A ``spine worker`` killed with SIGKILL in the middle of a check job: another worker
finishes the job after the lease runs out, and the check has one result, not two.

Real processes on a real SQLite database. The first worker's check is held in the
middle of its scan by a query whose length the test controls (a row of the user's
database says how far a recursive count goes), so it is certainly mid-job when killed.
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.storage.migrator import Migrator
from spine.core.storage.schema.dq_platform import check_results, jobs
from tests.cli.spine_process import start_spine, stop, wait_for

SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < (SELECT n FROM knob)) SELECT count(*) FROM c"
)


def _knob(path: Path, n: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS knob (n INTEGER)")
        conn.execute("DELETE FROM knob")
        conn.execute("INSERT INTO knob VALUES (?)", (n,))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Services, dict[str, str]]]:
    database = tmp_path / "spine.db"
    target = tmp_path / "user.db"
    _knob(target, 10**12)  # hours of counting: the first worker never finishes
    env = {
        "SPINE_DATABASE_URL": f"sqlite:///{database}",
        "SPINE_SECRET_KEY": Fernet.generate_key().decode(),
        "SPINE_QUALITY_JOB_LEASE_SECONDS": "2",
        "SPINE_QUALITY_STATEMENT_TIMEOUT_SECONDS": "600",
        "SPINE_WORKER_POLL_SECONDS": "0.1",
    }
    settings = load_settings(
        database_url=env["SPINE_DATABASE_URL"], secret_key=env["SPINE_SECRET_KEY"]
    )
    services = build(settings)
    Migrator(services.database).upgrade()
    services.sources.connections.add("user", dialect="sqlite", database=str(target))
    services.quality.add_check(
        "slow", connection="user", check_type="custom_sql", table="knob", config={"sql": SLOW}
    )
    services.quality.queue_job("slow")
    yield services, env
    services.close()


def _job(services: Services) -> dict[str, object]:
    return services.database.run_read(
        lambda conn: dict(conn.execute(sa.select(jobs)).mappings().one())
    )


def _results(services: Services) -> int:
    return services.database.run_read(
        lambda conn: conn.execute(
            sa.select(sa.func.count()).select_from(check_results)
        ).scalar_one()
    )


def test_a_killed_workers_job_is_finished_by_another_once(
    setup: tuple[Services, dict[str, str]], tmp_path: Path
) -> None:
    services, env = setup
    first = start_spine("worker", cwd=tmp_path, env=env, stderr=tmp_path / "first.err")
    try:
        wait_for(lambda: _job(services)["status"] == "running", "the first claim", first)
        holder = _job(services)["claimed_by"]
        assert isinstance(holder, str) and f":{first.pid}:" in holder
    finally:
        first.send_signal(signal.SIGKILL)
        stop(first)
    assert _results(services) == 0
    _knob(Path(str(services.sources.connections.get("user").database)), 3)
    second = start_spine("worker", cwd=tmp_path, env=env, stderr=tmp_path / "second.err")
    try:
        wait_for(lambda: _job(services)["status"] == "completed", "the second worker", second)
    finally:
        second.send_signal(signal.SIGTERM)
        stop(second)
    job = _job(services)
    assert job["attempts"] == 2
    assert job["claimed_by"] != holder
    assert _results(services) == 1
    [outcome] = services.quality.results("slow")
    assert outcome.id == job["result_id"]
    assert outcome.sensor_value == 3
