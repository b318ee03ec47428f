"""``spine --workspace W schedules ...`` acts in W only; ``spine scheduler`` serves all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from spine.core.clock import SystemClock
from spine.core.storage import create_database
from spine.tenancy import Actor, TenancyService
from spine.tenancy.store import TenancyStore
from tests.cli.spine_process import run_spine, run_spines

APP = ["--app", "spine.examples.finra"]
WF = "finra.weekly_ingest"


def test_workspace_option_confines_every_schedules_command(
    tmp_path: Path, sqlite_template: Path
) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "spine.db")
    url = f"sqlite:///{tmp_path / 'spine.db'}"
    database = create_database(url)
    clock = SystemClock()
    tenancy = TenancyService(TenancyStore(database, clock), clock)
    for org in ("acme", "globex"):
        tenancy.create_organization(org)
        tenancy.create_workspace("data", org, Actor())
    database.dispose()

    def spine(workspace: str, *args: str) -> list[str]:
        return ["--database-url", url, "--workspace", workspace, *APP, *args]

    add = ["schedules", "add", "nightly", "--workflow", WF, "--cron", "0 2 * * *", "--json"]
    added = [run_spine(*spine(w, *add), cwd=tmp_path) for w in ("acme/data", "globex/data")]
    assert [a.code for a in added] == [0, 0], [a.stderr for a in added]
    ids = [json.loads(a.stdout)["id"] for a in added]
    listed_a, listed_b, listed_default, shown_b, removed_b, paused_a = run_spines(
        [
            (spine("acme/data", "schedules", "list", "--json"), None, tmp_path),
            (spine("globex/data", "schedules", "list", "--json"), None, tmp_path),
            (spine("default", "schedules", "list", "--json"), None, tmp_path),
            (spine("globex/data", "schedules", "show", ids[0]), None, tmp_path),
            (spine("default", "schedules", "remove", "nightly"), None, tmp_path),
            (spine("acme/data", "schedules", "pause", "nightly"), None, tmp_path),
        ]
    )
    assert [s["id"] for s in json.loads(listed_a.stdout)] == [ids[0]]
    assert [s["id"] for s in json.loads(listed_b.stdout)] == [ids[1]]
    assert json.loads(listed_default.stdout) == []
    assert shown_b.code == 2 and f"unknown schedule {ids[0]!r}" in shown_b.stderr
    assert removed_b.code == 2 and "unknown schedule 'nightly'" in removed_b.stderr
    assert paused_a.code == 0, paused_a.stderr
    after = run_spine(*spine("globex/data", "schedules", "list", "--json"), cwd=tmp_path)
    assert json.loads(after.stdout)[0]["enabled"] is True
