"""A step reaches sources and alerting through its context in a real ``spine run``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import sqlalchemy as sa

from spine.core.storage import create_database
from spine.core.storage.schema.alerting import core_alerts
from spine.core.storage.schema.sources import core_source_fetches
from tests.cli.spine_process import invoke_spine

APP = textwrap.dedent(
    """
    from spine import Step, Workflow


    def work(ctx):
        ctx.sources.add("daily", "file", {"path": ctx.params["path"]}, if_absent=True)
        result = ctx.fetch("daily")
        alert_id = ctx.send_alert("WARNING", "fetched", f"{result.record_count} records")
        return {"status": result.status.value, "fetch_id": result.fetch_id, "alert": alert_id}


    Workflow("ctx.services", [Step.lambda_("work", work)], domain="ops")
    """
)


def test_a_step_fetches_and_alerts_through_its_context(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "ctx_app.py").write_text(APP)
    data = tmp_path / "day.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    done = invoke_spine(
        "run",
        "ctx.services",
        "--param",
        f"path={data}",
        "--json",
        cwd=tmp_path,
        env={"SPINE_DATABASE_URL": db_url, "SPINE_APP": "ctx_app"},
    )
    assert done.code == 0, done.stderr
    run = json.loads(done.stdout)["run"]
    assert run["status"] == "COMPLETED", run["error"]
    outputs = run["outputs"]
    assert outputs["status"] == "SUCCESS"
    database = create_database(db_url)
    try:
        with database.read() as conn:
            fetch = conn.execute(sa.select(core_source_fetches)).one()
            alert = conn.execute(sa.select(core_alerts)).one()
    finally:
        database.dispose()
    assert (fetch.id, fetch.run_id, fetch.record_count) == (outputs["fetch_id"], run["run_id"], 2)
    assert (alert.id, alert.run_id, alert.source, alert.domain) == (
        outputs["alert"],
        run["run_id"],
        "ctx.services",
        "ops",
    )
