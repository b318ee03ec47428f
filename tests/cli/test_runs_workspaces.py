"""``--workspace`` confines ``spine run`` and ``spine runs ...`` to one workspace."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import sqlalchemy as sa

from spine.core.clock import SystemClock
from spine.core.storage import create_database
from spine.core.storage.schema.dq_platform import audit_log as audit_t
from spine.tenancy import DEFAULT_WORKSPACE_ID, OPERATOR, TenancyService
from spine.tenancy.store import TenancyStore
from tests.cli.spine_process import invoke_spine, run_spines

APP = textwrap.dedent(
    """
    from spine import Step, Workflow

    Workflow("ws.hello", [Step.lambda_("greet", lambda ctx: {"hi": 1})])
    """
)


def test_workspace_confines_the_run_commands(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "spine.db")
    (tmp_path / "cli_app.py").write_text(APP)
    url = f"sqlite:///{tmp_path / 'spine.db'}"
    database = create_database(url)
    clock = SystemClock()
    tenancy = TenancyService(TenancyStore(database, clock), clock)
    tenancy.create_organization("acme")
    workspace = tenancy.create_workspace("data", "acme", OPERATOR)
    database.dispose()
    base = ["--database-url", url, "--app", "cli_app"]
    data = [*base, "--workspace", "data"]

    theirs, mine = run_spines(
        [
            ([*data, "run", "ws.hello", "--json"], None, tmp_path),
            ([*base, "run", "ws.hello", "--json"], None, tmp_path),
        ],
        in_process=True,
    )
    assert theirs.code == 0, theirs.stderr
    assert mine.code == 0, mine.stderr
    their_id = json.loads(theirs.stdout)["run"]["run_id"]
    my_id = json.loads(mine.stdout)["run"]["run_id"]

    listed_data, listed_default, shown, cancelled, stats = run_spines(
        [
            ([*data, "runs", "list", "--json"], None, tmp_path),
            ([*base, "runs", "list", "--json"], None, tmp_path),
            ([*base, "runs", "show", their_id], None, tmp_path),
            ([*base, "runs", "cancel", their_id], None, tmp_path),
            ([*data, "runs", "stats", "--json"], None, tmp_path),
        ],
        in_process=True,
    )
    assert [r["run_id"] for r in json.loads(listed_data.stdout)] == [their_id]
    assert [r["run_id"] for r in json.loads(listed_default.stdout)] == [my_id]
    assert shown.code != 0 and f"unknown run '{their_id}'" in shown.stderr
    assert cancelled.code != 0 and f"unknown run '{their_id}'" in cancelled.stderr
    assert json.loads(stats.stdout)["total_runs"] == 1

    pruned = invoke_spine(*data, "runs", "prune", "--older-than-days", "0", "--yes", cwd=tmp_path)
    assert pruned.code == 0, pruned.stderr
    left = invoke_spine(*base, "runs", "list", "--json", cwd=tmp_path)
    assert [r["run_id"] for r in json.loads(left.stdout)] == [my_id]
    assert json.loads(invoke_spine(*data, "runs", "list", "--json", cwd=tmp_path).stdout) == []

    # Each start was audited once, in its own workspace, without a key (the CLI).
    database = create_database(url)
    with database.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_t.c.workspace_id, audit_t.c.api_key_id).where(
                audit_t.c.entity_type == "run"
            )
        ).all()
    database.dispose()
    assert sorted(str(r.workspace_id) for r in rows) == sorted(
        [str(workspace.id), str(DEFAULT_WORKSPACE_ID)]
    )
    assert {r.api_key_id for r in rows} == {None}
