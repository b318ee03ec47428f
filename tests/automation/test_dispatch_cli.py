"""``spine automation executions`` and ``replay`` through the real console script."""

from __future__ import annotations

import json
from pathlib import Path

from spine.core.storage import Database
from tests.automation.dispatch_support import (
    acted_rows,
    build_dispatcher,
    create_acted,
    make_rule,
    update,
)
from tests.cli.spine_process import invoke_spine, run_spines


def test_executions_list_filter_and_replay(db: Database, db_url: str, tmp_path: Path) -> None:
    env = {"SPINE_DATABASE_URL": db_url}
    create_acted(db)
    ok = make_rule(db, "ok")
    bad = make_rule(db, "bad", actions=(("x", 1, {"fail": True}),))
    update(db, 1, "a", "b")
    update(db, 2, "a", "b")
    build_dispatcher(db, [ok, bad]).run_once()

    # Independent invocations side by side: start-up is most of their time.
    listed, failed, table, unknown, wrong, too_far = run_spines(
        [
            (args, env, tmp_path)
            for args in (
                ("automation", "executions", "--json"),
                ("automation", "executions", "--rule", "bad", "--status", "failed", "--json"),
                ("automation", "executions", "--limit", "1"),
                ("automation", "executions", "--rule", "nope"),
                ("automation", "executions", "--status", "done"),
                ("automation", "replay", "--from", "9"),
            )
        ],
        in_process=True,
    )
    assert listed.code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 4
    assert set(rows[0]) >= {
        "id",
        "automation_rules_id",
        "entity_type",
        "trigger_data",
        "actions_executed",
        "status",
        "error_message",
        "execution_time_ms",
        "executed_at",
        "rule",
        "change_position",
        "workspace_id",
        "depth",
    }
    assert [r["rule"] for r in json.loads(failed.stdout)] == ["bad", "bad"]
    assert table.code == 0 and "Executions" in table.stdout
    assert unknown.code == 2 and len(unknown.stderr.strip().splitlines()) == 1
    assert wrong.code == 2 and "unknown status" in wrong.stderr
    assert too_far.code == 2 and "past the newest change" in too_far.stderr

    replay = invoke_spine("automation", "replay", "--from", "2", "--json", cwd=tmp_path, env=env)
    assert replay.code == 0, replay.stderr
    assert json.loads(replay.stdout) == {
        "from_position": 2,
        "previous_position": 2,
        "last_position": 2,
        "changes": 1,
    }
    build_dispatcher(db, [ok, bad]).run_once()
    assert len(acted_rows(db)) == 2  # "ok" did not act again for position 2
