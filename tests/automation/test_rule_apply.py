"""Rules as code: apply a document (plan, dry run, prune, idempotence, all or nothing)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from spine.automation.declare import load_document
from spine.automation.service import RuleService
from spine.core.clock import FrozenClock
from spine.core.errors import Conflict, InvalidInput
from spine.core.storage import Database
from spine.core.storage.schema.automation import action_templates, automation_rules
from spine.tenancy import DEFAULT_WORKSPACE_ID

from .rule_helpers import START, Tables, rule_service, shipped

TEMPLATE = {
    "name": "page-oncall",
    "action_type": "create_alert",
    "default_config": {"severity": "high", "recipients": [{"type": "role", "name": "oncall"}]},
    "description": "high alert to the on-call role",
}


def document(
    *rules: dict[str, Any], templates: tuple[dict[str, Any], ...] = (TEMPLATE,)
) -> dict[str, Any]:
    return {"templates": list(templates), "rules": list(rules)}


def templated(**overrides: Any) -> dict[str, Any]:
    rule = shipped(**overrides)
    rule["actions"] = [
        {
            "name": "page",
            "type": "create_alert",
            "template": "page-oncall",
            "config": {"title": "{{ new.id }} shipped", "message": "was {{ old.status }}"},
        }
    ]
    return rule


@pytest.fixture
def rules(db: Database) -> RuleService:
    clock = FrozenClock(START)
    tables = Tables(db, DEFAULT_WORKSPACE_ID, clock)
    tables.watch("orders", ["id", "status", "amount"])
    return rule_service(db, clock, tables)


def _count(db: Database, table: sa.Table) -> int:
    return db.run_read(
        lambda conn: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    )


def test_apply_creates_then_finds_nothing_to_do(rules: RuleService) -> None:
    doc = document(templated(), shipped(name="child", depends_on=["shipped"]))

    plan = rules.apply(doc, source="rules.yaml")

    assert plan.applied
    assert plan.lines() == [
        "+ template page-oncall (create_alert)",
        "+ rule shipped (on_update on orders, 1 action(s))",
        "+ rule child (on_update on orders, 1 action(s))",
        "= 0 unchanged",
    ]
    assert rules.rule("child").depends_on == ("shipped",)
    assert rules.rule("shipped").actions[0].template == "page-oncall"
    again = rules.apply(doc, source="rules.yaml")
    assert again.empty and not again.applied
    assert again.lines() == ["= 3 unchanged"]


def test_a_dry_run_writes_nothing(db: Database, rules: RuleService) -> None:
    plan = rules.apply(document(templated()), source="rules.yaml", dry_run=True)

    assert [item.name for item in plan.create] == ["page-oncall", "shipped"]
    assert not plan.applied
    assert _count(db, automation_rules) == 0
    assert _count(db, action_templates) == 0


def test_an_update_shows_each_field_old_and_new(rules: RuleService) -> None:
    rules.apply(document(templated()), source="rules.yaml")
    changed = templated(
        description="now described",
        conditions=[{"field_name": "status", "operator": "changed_to", "value": "lost"}],
    )

    plan = rules.apply(document(changed), source="rules.yaml")

    (line,) = [line for line in plan.lines() if line.startswith("~")]
    assert line.startswith("~ rule shipped: description: (none) -> now described; conditions: ")
    assert '"value": "shipped"' in line and '"value": "lost"' in line
    assert plan.to_dict()["update"][0]["changes"]["description"] == {
        "old": None,
        "new": "now described",
    }
    assert rules.rule("shipped").conditions[0].value == "lost"


def test_prune_deletes_what_the_document_does_not_name(rules: RuleService) -> None:
    rules.apply(document(templated(), shipped(name="old", depends_on=["shipped"])), source="a")

    kept = rules.apply(document(templated()), source="a")
    assert kept.empty
    assert len(rules.rules()) == 2

    pruned = rules.apply(document(shipped(name="other"), templates=()), source="a", prune=True)
    assert [f"{i.kind} {i.name}" for i in pruned.delete] == [
        "rule old",
        "rule shipped",
        "template page-oncall",
    ]
    assert [r.name for r in rules.rules()] == ["other"]
    assert rules.templates() == []


def test_a_bad_rule_refuses_the_whole_document_in_one_line(
    db: Database, rules: RuleService
) -> None:
    bad = shipped(
        name="bad",
        conditions=[{"field_name": "colour", "operator": "equals", "value": "red"}],
    )

    with pytest.raises(InvalidInput) as caught:
        rules.apply(document(templated(), bad), source="rules.yaml")

    assert str(caught.value) == (
        "rules.yaml: rule 'bad': conditions[0].field_name: table 'orders' has no column 'colour'"
    )
    assert _count(db, automation_rules) == 0
    assert _count(db, action_templates) == 0


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"rulez": []}, "rulez: unknown key"),
        ({"rules": [shipped(), shipped()]}, "rule 'shipped': declared twice"),
        ({"rules": [templated()]}, "unknown action template 'page-oncall'"),
        ({"templates": [{**TEMPLATE, "action_type": "fax"}]}, "template 'page-oncall'"),
        ({"rules": [{**shipped(), "colour": 1}]}, "rule 'shipped': colour: unknown key"),
    ],
)
def test_document_errors_name_the_file_and_the_place(
    rules: RuleService, doc: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        rules.apply(doc, source="rules.yaml")
    assert str(caught.value).startswith("rules.yaml: ")
    assert message in str(caught.value)


def test_a_template_still_used_is_not_pruned_alone(rules: RuleService) -> None:
    rules.apply(document(templated()), source="a")
    with pytest.raises(InvalidInput, match="unknown action template"):
        rules.apply(document(templated(), templates=()), source="a", prune=True)


def test_yaml_errors_and_repeated_keys_are_one_line() -> None:
    with pytest.raises(InvalidInput, match=r"^f.yaml: not valid YAML: line 3"):
        load_document("rules:\n  - [unclosed\n", "f.yaml")
    with pytest.raises(InvalidInput, match=r"^f.yaml: line 3: 'name' is given twice"):
        load_document("rules:\n  - name: a\n    name: b\n", "f.yaml")


def test_a_parent_removed_from_under_a_kept_child_is_refused(rules: RuleService) -> None:
    rules.apply(document(templated(), shipped(name="child", depends_on=["shipped"])), source="a")
    with pytest.raises((InvalidInput, Conflict)):
        rules.apply(document(shipped(name="child", depends_on=["shipped"])), source="a", prune=True)
    assert len(rules.rules()) == 2
