"""The automation pages in a real browser: rules and executions, the tester, my alerts.

Rules are applied through the automation services (as ``spine automation apply``), a
watched table is changed with SQL, and the dispatcher drains the change log in-process
(``run_once``), so that the pages show real executions and alerts.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from playwright.sync_api import expect

from spine.automation.models import AlertStatus, FieldCondition, Operator
from spine.bootstrap import Services
from spine.tenancy import Actor, ApiScope
from spine.web.pages.automation import condition_text, field_changes
from tests.web.conftest import Dashboard, accessibility_violations, log_in, screenshot

ADA = "ada@example.com"


def _alert_to_ada(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "message": "status was {{ old.status }}",
        "recipients": [{"type": "user", "email": ADA}],
    }


RULES = {
    "rules": [
        {
            "name": "shipped",
            "entity": "orders",
            "trigger": "on_update",
            "conditions": [{"field_name": "status", "operator": "changed_to", "value": "shipped"}],
            "actions": [
                {
                    "name": "tell-ada",
                    "type": "create_alert",
                    "config": _alert_to_ada("Order {{ new.id }} shipped"),
                },
                {
                    "name": "ping-ada",
                    "type": "send_notification",
                    "execution_order": 2,
                    "config": {
                        "recipients": [{"type": "user", "email": ADA}],
                        "channels": ["in_app"],
                        "title": "Order {{ new.id }} shipped",
                        "message": "in the app",
                    },
                },
            ],
        },
        {
            "name": "created",
            "entity": "orders",
            "trigger": "on_create",
            "actions": [
                {
                    "name": "note",
                    "type": "create_alert",
                    "config": {**_alert_to_ada("New order {{ new.id }}"), "message": "new"},
                }
            ],
        },
    ]
}


def _sql(services: Services, *statements: str) -> None:
    def work(conn: Any) -> None:
        for statement in statements:
            conn.execute(sa.text(statement))

    services.database.run_write(work)


def seed(dashboard: Dashboard) -> dict[str, Any]:
    """Rules in ``a`` (and one in ``b``), three new orders and one shipped, dispatched."""
    a, b = dashboard.a.services, dashboard.b.services
    _sql(dashboard.services, "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
    dashboard.services.tenancy.add_user(ADA)
    a.automation.entities.watch("orders")
    b.automation.entities.watch("orders")
    assert a.automation.rules.apply(RULES, source="rules.yaml").applied
    b.automation.rules.apply({"rules": [RULES["rules"][0]]}, source="b.yaml")
    _sql(
        dashboard.services,
        "INSERT INTO orders (id, status) VALUES (1, 'new'), (2, 'new'), (3, 'new')",
        "UPDATE orders SET status = 'shipped' WHERE id = 1",
    )
    a.automation.dispatcher().run_once()
    (shipped,) = a.automation.executions.executions(rule="shipped")
    (elsewhere,) = b.automation.executions.executions(rule="shipped")
    return {"shipped": shipped, "elsewhere": elsewhere}


def _forge(page: Any, dashboard: Dashboard, path: str, **data: str) -> httpx.Response:
    """POST ``path`` with the page's session cookie and CSRF token, outside the browser."""
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=dashboard.url, cookies=cookies) as client:
        return client.post(f"/ui{path}", data={"csrf_token": token, **data})


def test_rules_with_their_executions_and_an_execution(page: Any, dashboard: Dashboard) -> None:
    seeded = seed(dashboard)
    log_in(page, dashboard, "write")

    page.goto(dashboard.ui("/automation"))
    shipped = page.locator("tr[data-rule=shipped]")
    expect(shipped).to_contain_text('status changed to "shipped"')
    expect(shipped).to_contain_text("on_update")
    expect(shipped.locator(".status-success")).to_have_count(1)
    created = page.locator("tr[data-rule=created]")
    expect(created).to_contain_text("every change")
    expect(created.locator("svg.chart-sparkline .mark")).to_have_count(3)
    expect(page.locator("#recent ~ .table-wrap tbody tr")).to_have_count(4)
    screenshot(page, "automation")
    assert accessibility_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "automation-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    shipped.locator(f'a[href$="/automation/executions/{seeded["shipped"].id}"]').click()
    page.wait_for_url(f"**/automation/executions/{seeded['shipped'].id}")
    action = page.locator("tr[data-action=tell-ada]")
    expect(action).to_contain_text("success")
    expect(action).to_contain_text("create_alert")
    expect(action.locator("pre")).to_contain_text("alert_id")
    expect(page.locator("tr[data-action]")).to_have_count(2)
    expect(page.locator("tr[data-action]").nth(1)).to_contain_text("ping-ada")
    expect(page.locator("tr[data-action=ping-ada]")).to_contain_text("1 (deliveries)")
    delivery = page.locator("tr[data-delivery]")
    expect(delivery).to_have_count(1)
    expect(delivery).to_contain_text("in_app")
    expect(delivery).to_contain_text("delivered")
    expect(page.locator("tr.changed")).to_contain_text('"shipped"')
    expect(page.get_by_role("heading", name="Execution of shipped")).to_be_visible()
    screenshot(page, "automation-execution")
    assert accessibility_violations(page) == []

    page.goto(dashboard.ui("/automation"))
    created.get_by_role("button", name="Disable").click()
    expect(page.locator(".flash")).to_have_text("Rule created is disabled.")
    assert not dashboard.a.services.automation.rules.rule("created").is_active
    page.locator("tr[data-rule=created]").get_by_role("button", name="Enable").click()
    expect(page.locator(".flash")).to_have_text("Rule created is enabled.")
    assert dashboard.a.services.automation.rules.rule("created").is_active


def test_a_read_key_sees_but_cannot_act_and_b_is_not_found(page: Any, dashboard: Dashboard) -> None:
    seeded = seed(dashboard)
    b_rule = dashboard.b.services.automation.rules.rule("shipped")
    log_in(page, dashboard, "read")

    page.goto(dashboard.ui("/automation"))
    expect(page.locator("tr[data-rule=shipped]")).to_be_visible()
    expect(page.get_by_role("button", name="Disable")).to_have_count(0)
    refused = _forge(page, dashboard, "/automation/rules/created/disable")
    assert refused.status_code == 403
    assert "write" in refused.text and "Traceback" not in refused.text
    assert dashboard.a.services.automation.rules.rule("created").is_active

    response = page.goto(dashboard.ui(f"/automation/executions/{seeded['elsewhere'].id}"))
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("unknown execution")

    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/automation"))
    assert _forge(page, dashboard, f"/automation/rules/{b_rule.id}/disable").status_code == 404
    assert dashboard.b.services.automation.rules.rule("shipped").is_active


def test_the_tester_shows_matched_and_unmatched_conditions(page: Any, dashboard: Dashboard) -> None:
    seed(dashboard)
    inbox = dashboard.a.services.automation.inbox
    before = len(inbox.alerts())
    log_in(page, dashboard, "read")

    page.goto(dashboard.ui("/automation/test?rule=shipped"))
    event = page.get_by_label("Event")
    event.fill(
        '{"operation": "update", "old": {"id": 7, "status": "new"}, '
        '"new": {"id": 7, "status": "shipped"}}'
    )
    page.get_by_role("button", name="Test").click()
    expect(page.get_by_role("heading", name="The rule would fire")).to_be_visible()
    expect(page.locator("tr.condition.matched")).to_have_count(1)
    expect(page.locator("ol.preview")).to_contain_text("Order 7 shipped")
    screenshot(page, "automation-test")
    assert accessibility_violations(page) == []

    page.get_by_label("Event").fill(
        '{"operation": "update", "old": {"id": 7, "status": "new"}, '
        '"new": {"id": 7, "status": "late"}}'
    )
    page.get_by_role("button", name="Test").click()
    expect(page.get_by_role("heading", name="The rule would not fire")).to_be_visible()
    expect(page.locator("tr.condition.unmatched")).to_have_count(1)

    page.locator("select#rule").select_option("created")
    expect(page.get_by_label("Event")).to_have_value(re.compile(r'"operation": "insert"'))
    page.locator("select#rule").select_option("shipped")
    expect(page.get_by_label("Event")).to_have_value(re.compile(r'"operation": "update"'))

    page.get_by_label("Event").fill('{"operation": "update", "old": ')
    with page.expect_response(re.compile(r"/ui/automation/test$")) as answered:
        page.get_by_role("button", name="Test").click()
    assert answered.value.status == 400
    expect(page.get_by_role("alert")).to_contain_text("the event is not valid JSON")
    expect(page.get_by_label("Event")).to_have_value('{"operation": "update", "old": ')
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "automation-test-390")
    assert len(inbox.alerts()) == before


def test_my_alerts_are_acknowledged_and_dismissed(page: Any, dashboard: Dashboard) -> None:
    seed(dashboard)
    operator = Actor(workspace_id=dashboard.a.id)
    made = dashboard.services.tenancy.create_key(
        operator, name="ada", scopes=frozenset({ApiScope.READ, ApiScope.WRITE}), user=ADA
    )
    dashboard.a.keys["ada"] = made.secret
    inbox = dashboard.a.services.automation.inbox
    titles = {a.title: a.id for a in inbox.alerts(user=ADA)}
    assert set(titles) == {"Order 1 shipped", "New order 1", "New order 2", "New order 3"}

    log_in(page, dashboard, "ada")
    page.goto(dashboard.ui(f"/keys/{made.key.id}"))
    expect(page.locator("dl.facts")).to_contain_text(ADA)
    page.goto(dashboard.ui("/automation/alerts"))
    expect(page.locator("tr[data-alert]")).to_have_count(4)
    screenshot(page, "automation-alerts")
    assert accessibility_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "automation-alerts-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    shipped = page.locator(f'tr[data-alert="{titles["Order 1 shipped"]}"]')
    shipped.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".flash")).to_have_text("Acknowledged: Order 1 shipped")
    page.locator(f'tr[data-alert="{titles["New order 2"]}"]').get_by_role(
        "button", name="Dismiss"
    ).click()
    expect(page.locator(".flash")).to_have_text("Dismissed: New order 2")
    assert inbox.alert(titles["Order 1 shipped"]).status is AlertStatus.ACKNOWLEDGED
    assert inbox.alert(titles["New order 2"]).status is AlertStatus.DISMISSED
    assert inbox.alert(titles["New order 3"]).status is AlertStatus.ACTIVE

    page.goto(dashboard.ui("/automation/alerts?status=dismissed"))
    expect(page.locator("tr[data-alert]")).to_have_count(1)

    log_in(page, dashboard, "admin")
    page.goto(dashboard.ui("/automation/alerts"))
    expect(page.locator(".notice")).to_contain_text("spine keys create")
    expect(page.locator(".notice")).to_contain_text("--user EMAIL")
    refused = _forge(page, dashboard, f"/automation/alerts/{titles['New order 3']}/dismiss")
    assert refused.status_code == 400
    assert inbox.alert(titles["New order 3"]).status is AlertStatus.ACTIVE


def test_empty_states_say_what_to_do(page: Any, dashboard: Dashboard) -> None:
    dashboard.a.keys["nobody"] = dashboard.services.tenancy.create_key(
        Actor(workspace_id=dashboard.a.id), name="x", scopes=frozenset({ApiScope.READ})
    ).secret
    log_in(page, dashboard, "nobody")
    page.goto(dashboard.ui("/automation"))
    expect(page.locator(".empty").first).to_contain_text("spine automation apply rules.yaml")
    expect(page.locator(".empty").nth(1)).to_contain_text("spine automation dispatch")
    assert accessibility_violations(page) == []
    page.goto(dashboard.ui("/automation/test"))
    expect(page.locator(".empty")).to_contain_text("spine automation apply")
    response = page.goto(dashboard.ui(f"/automation/executions/{uuid.uuid4()}"))
    assert response is not None and response.status == 404


# --- pure logic, no browser ---------------------------------------------------------


def test_conditions_read_as_a_sentence() -> None:
    assert (
        condition_text(
            FieldCondition(
                field_name="status", operator=Operator.CHANGED_FROM, previous_value="new"
            )
        )
        == 'status changed from "new"'
    )
    assert (
        condition_text(
            FieldCondition(field_name="amount", operator=Operator.GREATER_THAN, value=100)
        )
        == "amount > 100"
    )
    assert (
        condition_text(FieldCondition(field_name="desk", operator=Operator.IN, value=["a", "b"]))
        == 'desk in ["a", "b"]'
    )


def test_an_executions_change_names_the_changed_fields() -> None:
    rows = field_changes({"old": {"id": 1, "status": "new"}, "new": {"id": 1, "status": "x"}})
    assert [(r.name, r.old, r.new, r.changed) for r in rows] == [
        ("id", "1", "1", False),
        ("status", '"new"', '"x"', True),
    ]
    (inserted,) = field_changes({"old": None, "new": {"id": 2}})
    assert (inserted.old, inserted.changed) == ("\u2014", False)
