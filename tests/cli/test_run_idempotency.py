"""``spine run --idempotency-key``, through the real console script, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from spine.core.storage import Database
from spine.core.storage.schema.workflow_history import core_workflow_runs
from spine.orchestration.history import WorkflowStatus
from spine.orchestration.store import RunStore
from tests.cli.spine_process import run_spines
from tests.cli.test_run_cli import APP, ULID


def runs_of(db: Database, workflow_name: str) -> list[sa.RowMapping]:
    query = sa.select(core_workflow_runs).where(core_workflow_runs.c.workflow_name == workflow_name)
    with db.read() as conn:
        return list(conn.execute(query).mappings())


def spines(tmp_path: Path, url: str, *commands: list[str]) -> list[tuple[int, str, str]]:
    """Run ``spine --database-url URL --app cli_app COMMAND`` for each command, side by side."""
    (tmp_path / "cli_app.py").write_text(APP)
    done = run_spines(
        [(["--database-url", url, "--app", "cli_app", *c], None, tmp_path) for c in commands]
    )
    return [(d.code, d.stdout, d.stderr) for d in done]


def test_five_concurrent_no_wait_runs_with_one_key_make_one_run(
    tmp_path: Path, db_url: str, db: Database
) -> None:
    command = ["run", "demo.hello", "--no-wait", "--idempotency-key", "2025-01-10"]

    done = spines(tmp_path, db_url, *[command] * 5)

    assert [code for code, _, _ in done] == [0] * 5, [err for _, _, err in done]
    rows = runs_of(db, "demo.hello")
    assert len(rows) == 1
    assert rows[0]["idempotency_key"] == "2025-01-10"
    assert [out for _, out, _ in done] == [f"{rows[0]['run_id']}\n"] * 5
    events = RunStore(db).get_events(rows[0]["run_id"])
    assert [e.event_type for e in events] == ["run.created"]


def test_run_with_a_used_key_prints_that_run_and_exits_by_its_status(
    tmp_path: Path, db_url: str, db: Database
) -> None:
    boom = ["run", "demo.boom", "--idempotency-key", "k"]
    hello = ["run", "demo.hello", "--idempotency-key", "k", "--json"]
    [(boom_code, boom_out, _), (hello_code, hello_out, _)] = spines(tmp_path, db_url, boom, hello)
    failed_id = boom_out.splitlines()[0]
    completed = json.loads(hello_out)["run"]
    assert (boom_code, hello_code) == (1, 0)
    assert ULID.match(failed_id)
    assert completed["idempotency_key"] == "k"
    assert completed["run_id"] != failed_id  # the same key with another workflow

    again = spines(
        tmp_path,
        db_url,
        boom,
        hello,
        ["run", "demo.boom", "--no-wait", "--idempotency-key", "k"],
        ["run", "demo.hello", "--no-wait", "--idempotency-key", "k", "--json"],
    )

    (code, out, err), (json_code, json_out, _), (nw_code, nw_out, _), (nwj_code, nwj_out, _) = again
    assert (code, out.splitlines()[0]) == (1, failed_id)
    assert f"run {failed_id} FAILED" in err
    assert json_code == 0
    shown = json.loads(json_out)
    assert shown["run"]["run_id"] == completed["run_id"]
    assert shown["run"]["status"] == "COMPLETED"
    assert [s["attempt"] for s in shown["steps"]] == [1]  # not executed again
    assert (nw_code, nw_out) == (1, f"{failed_id}\n")
    assert nwj_code == 0
    assert json.loads(nwj_out) == {
        "run_id": completed["run_id"],
        "status": "COMPLETED",
        "idempotency_key": "k",
    }
    assert len(runs_of(db, "demo.boom")) == len(runs_of(db, "demo.hello")) == 1
    assert RunStore(db).run_row(failed_id).status is WorkflowStatus.FAILED
