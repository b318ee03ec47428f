"""``spine automation apply|rules|templates|test`` through the real console script.

The watched table ``orders`` is made in spine's database (SQLite or PostgreSQL) and
watched in-process; everything else goes through ``spine``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.core.storage.schema.automation import automation_rules
from spine.tenancy import DEFAULT_WORKSPACE_ID
from tests.automation.rule_helpers import START, Tables
from tests.cli.spine_process import Completed, invoke_spine, run_spines

RULES_YAML = """\
templates:
  - name: page-oncall
    action_type: create_alert
    default_config: {severity: high, recipients: [{type: role, name: oncall}]}
rules:
  - name: shipped
    entity: orders
    trigger: on_update
    conditions:
      - {field_name: status, operator: changed_to, value: shipped}
    actions:
      - name: tell-oncall
        type: create_alert
        execution_order: 1
        template: page-oncall
        config:
          title: "Order {{ new.id }} shipped"
          message: "status was {{ old.status }}"
  - name: big
    entity: orders
    trigger: on_create
    depends_on: [shipped]
    conditions:
      - {field_name: amount, operator: greater_than, value: 100}
"""


class Cli:
    def __init__(self, db_url: str, cwd: Path) -> None:
        self.env = {"SPINE_DATABASE_URL": db_url}
        self.cwd = cwd

    def __call__(self, *args: str) -> Completed:
        return invoke_spine("automation", *args, cwd=self.cwd, env=self.env)

    def many(self, *invocations: list[str]) -> list[Completed]:
        return run_spines(
            [(["automation", *a], self.env, self.cwd) for a in invocations], in_process=True
        )

    def json(self, *args: str) -> Any:
        done = self(*args, "--json")
        assert (done.code, done.stderr) == (0, ""), done.stderr
        return json.loads(done.stdout)

    def write(self, name: str, text: str) -> str:
        path = self.cwd / name
        path.write_text(text)
        return str(path)


@pytest.fixture
def cli(db_url: str, db: Database, tmp_path: Path) -> Cli:
    Tables(db, DEFAULT_WORKSPACE_ID, FrozenClock(START)).watch("orders", ["status", "amount"])
    return Cli(db_url, tmp_path)


def _rules(db: Database) -> int:
    return db.run_read(
        lambda conn: conn.execute(
            sa.select(sa.func.count()).select_from(automation_rules)
        ).scalar_one()
    )


def test_apply_previews_writes_and_then_has_nothing_to_do(cli: Cli, db: Database) -> None:
    path = cli.write("rules.yaml", RULES_YAML)

    dry = cli("apply", path, "--dry-run")
    assert dry.code == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "+ template page-oncall (create_alert)",
        "+ rule shipped (on_update on orders, 1 action(s))",
        "+ rule big (on_create on orders, 0 action(s))",
        "= 0 unchanged",
        "dry run: nothing written",
    ]
    assert _rules(db) == 0

    done = cli("apply", path)
    assert done.code == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "applied: 3 created, 0 updated, 0 deleted"

    changed = cli.write("changed.yaml", RULES_YAML.replace("value: 100", "value: 500"))
    again, edit = cli.many(["apply", path], ["apply", changed, "--dry-run", "--json"])
    assert again.stdout.splitlines() == ["= 3 unchanged", "nothing to do"]
    plan = json.loads(edit.stdout)
    assert plan["update"][0]["name"] == "big"
    assert plan["update"][0]["changes"]["conditions"]["new"][0]["value"] == 500


def test_a_bad_file_is_one_line_naming_file_rule_and_field_and_writes_nothing(
    cli: Cli, db: Database
) -> None:
    path = cli.write("bad.yaml", RULES_YAML.replace("operator: greater_than", "operator: above"))

    done = cli("apply", path)

    assert done.code == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "bad.yaml: rule 'big': conditions[0].operator: unknown operator 'above'" in lines[0]
    assert _rules(db) == 0


def test_rules_list_show_disable_enable_remove_and_templates_list(cli: Cli) -> None:
    assert cli("apply", cli.write("rules.yaml", RULES_YAML)).code == 0

    listed, shown, templates = cli.many(
        ["rules", "list", "--json"], ["rules", "show", "shipped"], ["templates", "list", "--json"]
    )
    names = [rule["name"] for rule in json.loads(listed.stdout)]
    assert names == ["big", "shipped"]
    assert 'status changed_to "shipped"' in shown.stdout
    assert "tell-oncall (create_alert, template page-oncall)" in shown.stdout
    assert [t["name"] for t in json.loads(templates.stdout)] == ["page-oncall"]

    assert cli.json("rules", "disable", "big")["is_active"] is False
    assert cli("rules", "enable", "big").stdout.strip() == "rule big enabled"
    refused = cli("rules", "remove", "shipped")
    assert refused.code == 2 and "is a parent of 'big'" in refused.stderr
    assert cli("rules", "remove", "big").code == 0
    missing = cli("rules", "show", "big")
    assert missing.code == 2 and "unknown rule 'big'" in missing.stderr


def test_test_says_condition_by_condition_and_renders_the_actions(cli: Cli, db: Database) -> None:
    assert cli("apply", cli.write("rules.yaml", RULES_YAML)).code == 0
    event = {
        "operation": "update",
        "old": {"id": 4, "status": "new"},
        "new": {"id": 4, "status": "shipped"},
    }
    miss = {
        "trigger": "on_update",
        "old": {"id": 4, "status": "x"},
        "new": {"id": 4, "status": "x"},
    }

    hit, missed, as_json = cli.many(
        ["test", "shipped", "--event", json.dumps(event)],
        ["test", "shipped", "--event", json.dumps(miss)],
        ["test", "shipped", "--event", json.dumps(event), "--json"],
    )

    assert hit.code == 0, hit.stderr
    assert hit.stdout.splitlines()[0] == "rule shipped matches this update event"
    assert "ok   status changed" in hit.stdout
    assert "Order 4 shipped" in hit.stdout
    assert missed.code == 0
    assert "does not match" in missed.stdout and "FAIL status did not change" in missed.stdout
    result = json.loads(as_json.stdout)
    assert result["matched"] is True
    assert result["actions"][0]["config"] == {
        "severity": "high",
        "recipients": [{"type": "role", "name": "oncall"}],
        "title": "Order 4 shipped",
        "message": "status was new",
    }
    bad = cli("test", "shipped", "--event", "{nope")
    assert bad.code == 2 and "--event" in bad.stderr
