"""``spine scheduler`` queues the jobs of due check schedules, with no workflow registered."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

from spine.bootstrap import build
from spine.config import load_settings
from spine.core.storage.migrator import Migrator
from spine.core.storage.schema.dq_platform import jobs, schedules
from tests.cli.spine_process import run_spine

from .conftest import make_orders


def test_scheduler_once_queues_due_checks_without_an_app(tmp_path: Path) -> None:
    target = tmp_path / "shop.db"
    make_orders(target)
    env = {
        "SPINE_DATABASE_URL": f"sqlite:///{tmp_path / 'spine.db'}",
        "SPINE_SECRET_KEY": Fernet.generate_key().decode(),
    }
    services = build(
        load_settings(database_url=env["SPINE_DATABASE_URL"], secret_key=env["SPINE_SECRET_KEY"])
    )
    try:
        Migrator(services.database).upgrade()
        nothing = run_spine("scheduler", "--once", cwd=tmp_path, env=env)
        assert nothing.code != 0 and "no workflow is registered" in nothing.stderr
        services.sources.connections.add("shop", dialect="sqlite", database=str(target))
        services.quality.add_check(
            "rows", connection="shop", check_type="row_count", table="orders", cron="0 * * * *"
        )
        # Make it due now: the test stands in for the hour passing.
        past = services.clock.now() - timedelta(minutes=1)
        services.database.run_write(
            lambda conn: conn.execute(sa.update(schedules).values(next_run_at=past))
        )
        done = run_spine("scheduler", "--once", cwd=tmp_path, env=env)
        assert done.code == 0, done.stderr
        [job] = services.quality.list_jobs()
        assert job.triggered_by == "schedule" and job.status.value == "queued"
        worker = run_spine("worker", "--once", cwd=tmp_path, env=env)
        assert worker.code == 0, worker.stderr
        assert "1 check jobs" in worker.stdout
        finished = services.quality.get_job(str(job.id))
        assert finished.status.value == "completed" and finished.result_id is not None
        assert (
            services.database.run_read(
                lambda conn: conn.execute(sa.select(sa.func.count()).select_from(jobs)).scalar_one()
            )
            == 1
        )
    finally:
        services.close()
