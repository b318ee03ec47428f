"""``spine roles`` and ``spine automation alerts`` through the console script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spine.core.storage import create_database
from tests.automation.people_fixtures import People, make_people
from tests.cli.spine_process import Completed, invoke_spine


def _json(done: Completed) -> Any:
    assert (done.code, done.stderr) == (0, ""), done.stderr
    return json.loads(done.stdout)


def _one_line_error(done: Completed, text: str) -> None:
    assert done.code == 2, done
    assert done.stderr.count("\n") == 1, done.stderr
    assert text in done.stderr


def test_roles_and_alerts_from_the_command_line(tmp_path: Path) -> None:
    def spine(*args: str) -> Completed:
        return invoke_spine(*args, cwd=tmp_path)

    assert spine("users", "add", "dee@example.com").code == 0  # creates the database
    db = create_database(f"sqlite:///{tmp_path / 'spine.db'}")
    try:
        people: People = make_people(db)
        added = _json(spine("roles", "add", "finra-oncall", "--description", "d", "--json"))
        held = _json(spine("roles", "assign", "finra-oncall", "dee@example.com", "--json"))
        roles = _json(spine("roles", "list", "--json"))
        key = _json(spine("keys", "create", "--name", "dee", "--user", "dee@example.com", "--json"))
        alert_id = str(people.alert("finra-oncall"))
        approval = str(people.alert("bob@example.com", alert_type="approval"))
    finally:
        db.dispose()

    assert added["name"] == "finra-oncall" and held["members"] == ["dee@example.com"]
    assert [r["name"] for r in roles] == ["desk", "finra-oncall", "oncall"]
    assert key["user_id"]
    mine = _json(spine("automation", "alerts", "list", "--user", "dee@example.com", "--json"))
    assert [a["id"] for a in mine] == [alert_id]
    assert _json(spine("automation", "alerts", "list", "--json"))[0]["id"] in (alert_id, approval)
    assert spine("automation", "alerts", "list").code == 0

    _one_line_error(
        spine("automation", "alerts", "ack", alert_id, "--user", "bob@example.com"),
        "unknown alert",
    )
    acked = _json(
        spine(
            "automation", "alerts", "ack", alert_id, "--user", "dee@example.com",
            "--notes", "looking", "--json",
        )
    )  # fmt: skip
    assert acked["status"] == "acknowledged"
    assert acked["acknowledgments"][0]["notes"] == "looking"
    rejected = spine("automation", "alerts", "reject", approval, "--user", "bob@example.com")
    assert rejected.code == 0 and "rejected" in rejected.stdout
    _one_line_error(
        spine("automation", "alerts", "dismiss", approval, "--user", "dee@example.com"),
        "unknown alert",
    )
    assert spine("automation", "alerts", "dismiss", approval, "--user", "bob@example.com").code == 0
    listed = _json(spine("automation", "alerts", "list", "--status", "dismissed", "--json"))
    assert [(a["id"], a["decision"]) for a in listed] == [(approval, "rejected")]
    _one_line_error(spine("automation", "alerts", "list", "--status", "nope"), "--status")
    _one_line_error(spine("roles", "add", "desk"), "already exists")
    _one_line_error(spine("roles", "assign", "desk", "zed@example.com"), "unknown user")
