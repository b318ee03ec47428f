"""Checks as code: reading the YAML document and planning it against saved checks."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from spine.bootstrap import Services
from spine.core.errors import InvalidInput
from spine.quality.declare import CheckSpec, parse_document
from spine.quality.declare_plan import Update, apply_plan, make_plan
from spine.quality.models import CheckDefinition, Severity, TargetType

DOCUMENT = """
defaults:
  connection: warehouse
  table: public.orders
  tags: [orders]
checks:
  - name: orders_not_empty
    type: row_count
    config: {min: 1}
  - name: customer_nulls
    type: null_percent
    column: customer_id
    severity: warning
    config:
      warning: {max: 1}
      error: {max: 5}
    cron: "*/30 * * * *"
    timezone: Europe/Zurich
  - name: other_table
    type: row_count
    table: items
    tags: []
    enabled: false
    description: Items are loaded by another job
"""

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def saved(spec: CheckSpec) -> CheckDefinition:
    """The check the service would save for ``spec``."""
    schema, _, table = spec.table.rpartition(".")
    return CheckDefinition(
        id=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        connection_id=uuid.uuid4(),
        connection_name=spec.connection,
        name=spec.name,
        check_type=spec.check_type,
        target_type=TargetType.COLUMN if spec.column else TargetType.TABLE,
        target_schema=schema or None,
        target_table=table,
        target_column=spec.column,
        config=dict(spec.config),
        severity=Severity(spec.severity),
        enabled=spec.enabled,
        tags=tuple(spec.tags),
        description=spec.description,
        created_at=T0,
        updated_at=T0,
        cron_expression=spec.cron,
        timezone=spec.timezone if spec.cron else None,
    )


def test_the_document_is_read_with_defaults_applied_unless_a_check_says() -> None:
    first, second, third = parse_document(DOCUMENT, "checks.yaml")
    assert first == CheckSpec(
        name="orders_not_empty",
        connection="warehouse",
        check_type="row_count",
        table="public.orders",
        config={"min": 1},
        tags=("orders",),
    )
    assert second.column == "customer_id"
    assert second.severity == "warning"
    assert second.config == {"warning": {"max": 1}, "error": {"max": 5}}
    assert (second.cron, second.timezone) == ("*/30 * * * *", "Europe/Zurich")
    assert third.table == "items"
    assert third.tags == ()
    assert third.enabled is False
    assert third.description == "Items are loaded by another job"
    assert (third.cron, third.severity) == (None, "error")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("checks: [", "checks.yaml: not valid YAML: line 1"),
        ("- a\n- b\n", "checks.yaml: expected a mapping with a 'checks:' list"),
        ("check: []\n", "checks.yaml: unknown top-level key 'check'"),
        ("checks: {}\n", "checks.yaml: 'checks' must be a list of checks"),
        ("defaults: {schema: x}\nchecks: []\n", "checks.yaml: defaults: unknown key 'schema'"),
        (
            "checks:\n  - {name: a, type: row_count, table: t}\n",
            "checks.yaml: check 'a': field 'connection': required",
        ),
        (
            "checks:\n  - {type: row_count, table: t, connection: c}\n",
            "checks.yaml: check #1: field 'name': required",
        ),
        (
            "checks:\n  - {name: a, type: row_count, table: t, connection: c,"
            " severity: critical}\n",
            "checks.yaml: check 'a': field 'severity': must be warning, error or fatal",
        ),
        (
            "checks:\n  - {name: a, type: row_count, table: t, connection: c, colum: x}\n",
            "checks.yaml: check 'a': unknown field 'colum'",
        ),
        (
            "checks:\n  - {name: a, type: row_count, table: t, connection: c, config: [1]}\n",
            "checks.yaml: check 'a': field 'config': must be a mapping",
        ),
        (
            "checks:\n  - {name: a, type: row_count, table: t, connection: c, enabled: maybe}\n",
            "checks.yaml: check 'a': field 'enabled': must be true or false",
        ),
        (
            "checks:\n  - {name: a, type: row_count, table: t, connection: c, tags: {x: 1}}\n",
            "checks.yaml: check 'a': field 'tags': must be a list of text",
        ),
        (
            "checks:\n  - {name: a, type: row_count, table: t, connection: c, timezone: UTC}\n",
            "checks.yaml: check 'a': field 'timezone': given without 'cron'",
        ),
        (
            "checks:\n  - {name: a, type: row_count, table: t, connection: c}\n"
            "  - {name: a, type: row_count, table: u, connection: c}\n",
            "checks.yaml: check 'a': field 'name': declared twice",
        ),
        (
            "checks:\n  - name: a\n    type: row_count\n    type: null_count\n",
            "checks.yaml: line 4: 'type' is given twice",
        ),
        (
            "checks:\n  - {name: a, type: row_count, table: t, connection: c,"
            " config: {max: .nan}}\n",
            "checks.yaml: check 'a': config.max: NaN is not valid JSON",
        ),
    ],
)
def test_a_bad_document_is_one_line_naming_the_check_and_field(document: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_document(document, "checks.yaml")
    assert str(raised.value).startswith(message), str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_plan_creates_what_is_new_and_leaves_the_same_alone() -> None:
    specs = parse_document(DOCUMENT)
    plan = make_plan(specs, [saved(specs[0])])
    assert [s.name for s in plan.create] == ["customer_nulls", "other_table"]
    assert plan.unchanged == ("orders_not_empty",)
    assert plan.update == ()
    assert plan.delete == ()
    assert plan.lines()[0] == (
        "+ customer_nulls (null_percent on warehouse:public.orders.customer_id)"
    )
    assert plan.lines()[-1] == "= 1 unchanged"


def test_a_saved_check_that_reads_back_in_another_order_is_unchanged() -> None:
    specs = parse_document(DOCUMENT)
    reordered = [
        replace(
            saved(s),
            config={k: s.config[k] for k in reversed(list(s.config))},
            tags=tuple(reversed(s.tags)),
        )
        for s in specs
    ]
    # 1.0 saved for 1 written is the same number.
    reordered[0] = replace(reordered[0], config={"min": 1.0})
    plan = make_plan(specs, reordered)
    assert plan.empty
    assert plan.unchanged == ("orders_not_empty", "customer_nulls", "other_table")


def test_an_update_lists_each_changed_field_with_old_and_new() -> None:
    specs = parse_document(DOCUMENT)
    before = saved(specs[1])
    old = replace(before, severity=Severity.ERROR, cron_expression=None, timezone=None)
    plan = make_plan(specs[1:2], [old])
    (update,) = plan.update
    assert [(c.field, c.old, c.new) for c in update.changes] == [
        ("severity", "error", "warning"),
        ("cron", None, "*/30 * * * *"),
        ("timezone", None, "Europe/Zurich"),
    ]
    assert update.service_changes() == {
        "severity": "warning",
        "cron": "*/30 * * * *",
        "timezone": "Europe/Zurich",
    }
    assert plan.lines()[0] == (
        "~ customer_nulls: severity: error -> warning; cron: (none) -> */30 * * * *; "
        "timezone: (none) -> Europe/Zurich"
    )


def test_a_field_left_out_of_the_document_returns_to_its_default() -> None:
    specs = parse_document(DOCUMENT)
    with_schedule = replace(saved(specs[0]), cron_expression="0 * * * *", timezone="UTC")
    (update,) = make_plan(specs[:1], [with_schedule]).update
    assert update.service_changes() == {"cron": None}


def test_prune_deletes_only_checks_the_document_does_not_name() -> None:
    specs = parse_document(DOCUMENT)
    stray = saved(replace(specs[0], name="stray"))
    kept = [saved(s) for s in specs]
    assert make_plan(specs, [*kept, stray]).delete == ()
    plan = make_plan(specs, [*kept, stray], prune=True)
    assert [c.name for c in plan.delete] == ["stray"]
    assert plan.to_dict()["delete"] == ["stray"]
    assert "- stray" in plan.lines()


def test_update_is_a_value_of_the_plan() -> None:
    specs = parse_document(DOCUMENT)
    changed = replace(saved(specs[0]), config={"min": 2})
    (update,) = make_plan(specs[:1], [changed]).update
    assert isinstance(update, Update)
    assert make_plan(specs[:1], [changed]).to_dict()["update"] == [
        {"name": "orders_not_empty", "changes": {"config": {"old": {"min": 2}, "new": {"min": 1}}}}
    ]


# -- applying through the real service (SQLite and PostgreSQL) ----------------------------

SHOP = """
defaults: {connection: shop, table: orders}
checks:
  - {name: rows, type: row_count, config: {min: 1}}
  - {name: email_nulls, type: null_count, column: email, config: {max: 0}}
"""


def test_apply_writes_the_plan_and_a_second_plan_is_empty(services: Services) -> None:
    quality = services.quality
    specs = parse_document(SHOP)

    apply_plan(make_plan(specs, quality.list_checks()), quality)

    saved = {c.name: c for c in quality.list_checks()}
    assert set(saved) == {"rows", "email_nulls"}
    assert (saved["email_nulls"].target_column, saved["email_nulls"].config) == (
        "email",
        {"max": 0},
    )
    assert make_plan(specs, quality.list_checks()).empty


def test_a_refused_write_undoes_the_writes_before_it(services: Services) -> None:
    quality = services.quality
    apply_plan(make_plan(parse_document(SHOP), quality.list_checks()), quality)
    before = {c.name: c for c in quality.list_checks()}
    # A create and an update that pass, then an update the database refuses (no column).
    changed = (
        SHOP.replace("{min: 1}", "{min: 5}").replace("column: email,", "column: e_mail,")
        + "  - {name: ids, type: distinct_count, column: id, config: {min: 1}}\n"
    )
    plan = make_plan(parse_document(changed), quality.list_checks())
    assert [s.name for s in plan.create] == ["ids"]
    assert [u.spec.name for u in plan.update] == ["rows", "email_nulls"]

    with pytest.raises(InvalidInput, match="check 'email_nulls': column 'e_mail'"):
        apply_plan(plan, quality)

    after = {c.name: c for c in quality.list_checks()}
    assert set(after) == set(before)
    assert after["rows"].config == {"min": 1}
    assert make_plan(parse_document(SHOP), quality.list_checks()).empty


def test_prune_deletes_through_the_service(services: Services) -> None:
    quality = services.quality
    apply_plan(make_plan(parse_document(SHOP), quality.list_checks()), quality)
    only_rows = SHOP.split("  - {name: email_nulls")[0]

    plan = make_plan(parse_document(only_rows), quality.list_checks(), prune=True)
    apply_plan(plan, quality)

    assert [c.name for c in quality.list_checks()] == ["rows"]
