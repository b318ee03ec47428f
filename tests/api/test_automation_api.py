"""Watched tables, rules, templates, executions and alerts for people over HTTP.

On SQLite and PostgreSQL: tenant a watches a table ``orders`` of spine's database
through the API, saves rules in the shape of the YAML ``rules:`` list, tries them on
events, and a real dispatcher (the one ``spine automation dispatch --once`` runs) acts on
real changes of the table; alerts are read and acknowledged with keys made for users.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from spine.tenancy import Actor, ApiScope
from tests.api.tenants import Tenant, Tenants

PROBLEM = "application/problem+json"

SHIPPED: dict[str, Any] = {
    "name": "shipped",
    "description": "tell on-call when an order ships",
    "entity": "orders",
    "trigger": "on_update",
    "conditions": [{"field_name": "status", "operator": "changed_to", "value": "shipped"}],
    "depends_on": [],
    "actions": [
        {
            "name": "tell-oncall",
            "type": "create_alert",
            "execution_order": 1,
            "template": None,
            "config": {
                "severity": "high",
                "title": "Order {{ new.id }} shipped",
                "message": "status was {{ old.status }}",
                "recipients": [
                    {"type": "role", "name": "oncall"},
                    {"type": "user", "email": "ops@example.com"},
                ],
            },
        }
    ],
}


def create_orders(tenant: Tenant) -> None:
    """A table ``orders`` in spine's own database (users' tables may live there)."""
    with tenant.services.database.write() as conn:
        conn.execute(
            sa.text("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, amount INTEGER)")
        )


def change_orders(tenant: Tenant, *statements: str) -> None:
    """Run SQL on ``orders``: the capture records each change in the same transaction."""
    with tenant.services.database.write() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def dispatch(tenant: Tenant) -> None:
    """One pass of the dispatcher over the captured changes (every workspace)."""
    tenant.services.automation.dispatcher().run_once()


def user_key(tenant: Tenant, email: str, *scopes: ApiScope) -> dict[str, str]:
    """The header of a key of ``tenant`` acting for the user ``email``."""
    operator = Actor(workspace_id=tenant.workspace.id)
    made = tenant.services.tenancy.create_key(
        operator, name=f"key of {email}", scopes=frozenset(scopes or ApiScope), user=email
    )
    return {"Authorization": f"Bearer {made.secret}"}


def people(tenant: Tenant) -> None:
    """Users ada (on-call), ops (named directly) and bob (neither), and the role oncall."""
    tenancy = tenant.services.tenancy
    for email in ("ada@example.com", "ops@example.com", "bob@example.com"):
        tenancy.add_user(email)
    operator = Actor(workspace_id=tenant.workspace.id)
    tenancy.add_role("oncall", actor=operator)
    tenancy.assign_role("oncall", "ada@example.com", actor=operator)


@pytest.fixture
def a(tenants: Tenants) -> Tenant:
    """Tenant a with ``orders`` watched through the API."""
    create_orders(tenants.a)
    watched = tenants.a.post("/automation/entities", json={"table": "orders"})
    assert watched.status_code == 201, watched.text
    return tenants.a


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body


def test_tables_are_watched_listed_shown_and_unwatched(a: Tenant) -> None:
    listed = a.get("/automation/entities").json()

    (entity,) = listed["items"]
    assert (entity["name"], entity["entity_type"], entity["is_active"]) == ("orders", "table", True)
    assert {"id", "status", "amount"} <= set(entity["columns"])
    assert entity["workspace_id"] == a.id
    assert a.get(f"/automation/entities/{entity['id']}").json() == entity
    assert a.get("/automation/entities/orders").json() == entity
    runs = a.post("/automation/entities", json={"table": "core_workflow_runs"})
    assert runs.status_code == 201, runs.text
    assert "status" in runs.json()["columns"]

    gone = a.request("DELETE", "/automation/entities/orders")

    assert gone.status_code == 200, gone.text
    assert gone.json()["is_active"] is False
    _problem(a.post("/automation/entities", json={"table": "no_such_table"}), 422)
    _problem(a.get("/automation/entities/no_such_table"), 404)


def test_a_rule_is_created_read_tried_changed_and_deleted(a: Tenant) -> None:
    made = a.post("/automation/rules", json=SHIPPED)

    assert made.status_code == 201, made.text
    rule = made.json()
    assert (rule["name"], rule["entity"], rule["trigger"]) == ("shipped", "orders", "on_update")
    assert rule["conditions"] == SHIPPED["conditions"]
    (action,) = rule["actions"]
    assert (action["name"], action["type"], action["execution_order"]) == (
        "tell-oncall",
        "create_alert",
        1,
    )
    assert action["config"] == SHIPPED["actions"][0]["config"]
    assert a.get(f"/automation/rules/{rule['id']}").json() == rule
    assert a.get("/automation/rules/shipped").json() == rule
    assert [r["name"] for r in a.get("/automation/rules").json()["items"]] == ["shipped"]

    tried = a.post(
        "/automation/rules/shipped/test",
        json={
            "operation": "update",
            "old": {"id": 7, "status": "new"},
            "new": {"id": 7, "status": "shipped"},
        },
    )
    assert tried.status_code == 200, tried.text
    verdict = tried.json()
    assert (verdict["rule"], verdict["matched"], verdict["trigger_matched"]) == (
        "shipped",
        True,
        True,
    )
    assert [c["matched"] for c in verdict["conditions"]] == [True]
    (would,) = verdict["actions"]
    assert would["config"]["title"] == "Order 7 shipped"
    assert would["config"]["message"] == "status was new"
    missed = a.post(
        "/automation/rules/shipped/test",
        json={"trigger": "on_update", "old": {"status": "shipped"}, "new": {"status": "shipped"}},
    ).json()
    assert missed["matched"] is False
    assert a.get("/automation/executions").json()["items"] == []  # trying did nothing

    paused = a.request("PATCH", "/automation/rules/shipped", json={"is_active": False})
    assert paused.status_code == 200, paused.text
    assert paused.json()["is_active"] is False
    assert paused.json()["conditions"] == rule["conditions"]
    replaced = a.request(
        "PUT",
        f"/automation/rules/{rule['id']}",
        json={
            **SHIPPED,
            "conditions": [{"field_name": "amount", "operator": "greater_than", "value": 100}],
        },
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["conditions"][0]["operator"] == "greater_than"
    assert replaced.json()["is_active"] is True

    assert a.request("DELETE", "/automation/rules/shipped").status_code == 204
    _problem(a.get(f"/automation/rules/{rule['id']}"), 404)
    _problem(a.post("/automation/rules/shipped/test", json={"operation": "insert"}), 404)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"conditions": [{"field_name": "status", "operator": "like", "value": "x"}]}, "operator"),
        ({"conditions": [{"field_name": "colour", "operator": "equals", "value": "x"}]}, "colour"),
        ({"conditions": [{"field_name": "status", "operator": "in", "value": "shipped"}]}, "in"),
        ({"trigger": "on_insert"}, "trigger"),
        ({"actions": [{"name": "x", "type": "send_pigeon", "config": {}}]}, "type"),
        ({"depends_on": ["shipped"]}, "shipped"),
    ],
)
def test_a_bad_rule_is_a_problem_and_nothing_is_saved(
    a: Tenant, change: dict[str, Any], words: str
) -> None:
    audited = len(a.services.tenancy.audit_entries(Actor(workspace_id=a.workspace.id)))

    refused = a.post("/automation/rules", json={**SHIPPED, **change})

    problem = _problem(refused, 422)
    assert words in problem["detail"]
    assert a.get("/automation/rules").json()["items"] == []
    assert len(a.services.tenancy.audit_entries(Actor(workspace_id=a.workspace.id))) == audited


def test_templates_are_listed(a: Tenant) -> None:
    a.services.automation.rules.apply(
        {
            "templates": [
                {
                    "name": "loud",
                    "action_type": "create_alert",
                    "default_config": {"severity": "critical"},
                    "description": "wake people up",
                }
            ]
        },
        source="test",
    )

    (template,) = a.get("/automation/templates").json()["items"]

    assert (template["name"], template["action_type"]) == ("loud", "create_alert")
    assert template["default_config"] == {"severity": "critical"}
    made = a.post(
        "/automation/rules",
        json={**SHIPPED, "actions": [{**SHIPPED["actions"][0], "template": "loud"}]},
    )
    assert made.status_code == 201, made.text
    assert made.json()["actions"][0]["template"] == "loud"


def test_a_change_fires_a_rule_and_its_alert_reaches_the_recipients_only(a: Tenant) -> None:
    people(a)
    assert a.post("/automation/rules", json=SHIPPED).status_code == 201
    change_orders(
        a,
        "INSERT INTO orders (id, status, amount) VALUES (7, 'new', 10)",
        "UPDATE orders SET status = 'shipped' WHERE id = 7",
    )

    dispatch(a)

    (execution,) = a.get("/automation/executions").json()["items"]
    assert (execution["rule"], execution["status"], execution["entity_type"]) == (
        "shipped",
        "success",
        "orders",
    )
    assert execution["actions_executed"][0]["status"] == "success"
    assert a.get(f"/automation/executions/{execution['id']}").json() == execution
    assert a.get("/automation/executions", params={"rule": "shipped"}).json()["items"] == [
        execution
    ]
    assert a.get("/automation/executions", params={"status": "failed"}).json()["items"] == []
    (alert,) = a.get("/automation/alerts").json()["items"]
    assert (alert["title"], alert["severity"], alert["status"]) == (
        "Order 7 shipped",
        "high",
        "active",
    )
    assert {r["name"] for r in alert["recipients"]} == {"oncall", "ops@example.com"}
    assert a.get("/automation/alerts", params={"user": "ada@example.com"}).json()["items"] == [
        alert
    ]
    assert a.get("/automation/alerts", params={"user": "bob@example.com"}).json()["items"] == []

    ada, bob = user_key(a, "ada@example.com"), user_key(a, "bob@example.com")
    assert a.get("/automation/alerts/mine", headers=ada).json()["items"] == [alert]
    assert a.get("/automation/alerts/mine", headers=bob).json()["items"] == []
    _problem(a.get("/automation/alerts/mine"), 404)  # the tenant's key acts for no user

    path = f"/automation/alerts/{alert['id']}"
    _problem(a.post(f"{path}/acknowledge", headers=bob, json={"notes": "mine?"}), 404)
    _problem(a.post(f"{path}/dismiss", headers=bob), 404)
    acked = a.post(f"{path}/acknowledge", headers=ada, json={"notes": "looking"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    dismissed = a.post(f"{path}/dismiss", json={"user": "ops@example.com"})
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["status"] == "dismissed"
    assert a.get("/automation/alerts", params={"status": "dismissed"}).json()["items"] == [
        dismissed.json()
    ]


def test_reading_needs_read_and_changing_needs_write(a: Tenant) -> None:
    assert a.get("/automation/entities", kind="read").status_code == 200
    assert a.get("/automation/rules", kind="write").status_code == 403
    assert a.post("/automation/rules", kind="read", json=SHIPPED).status_code == 403
    assert a.post("/automation/entities", kind="read", json={"table": "orders"}).status_code == 403
    assert a.post("/automation/rules", kind="write", json=SHIPPED).status_code == 201
    assert a.request("DELETE", "/automation/rules/shipped", kind="read").status_code == 403
    assert (
        a.post(
            "/automation/rules/shipped/test", kind="read", json={"operation": "insert", "new": {}}
        ).status_code
        == 200
    )


def test_listings_are_paged(a: Tenant) -> None:
    for n in range(3):
        assert a.post("/automation/rules", json={**SHIPPED, "name": f"r{n}"}).status_code == 201

    first = a.get("/automation/rules", params={"limit": 2}).json()
    rest = a.get("/automation/rules", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [r["name"] for r in first["items"] + rest["items"]] == ["r0", "r1", "r2"]
    assert rest["next_cursor"] is None
    assert a.get("/automation/rules", params={"cursor": "bogus"}).status_code == 400


def test_changes_are_audited_in_the_workspace(a: Tenant, tenants: Tenants) -> None:
    assert a.post("/automation/rules", json=SHIPPED).status_code == 201
    assert (
        a.request("PATCH", "/automation/rules/shipped", json={"is_active": False}).status_code
        == 200
    )
    assert a.request("DELETE", "/automation/rules/shipped").status_code == 204

    operator = Actor(workspace_id=a.workspace.id)
    rules = a.services.tenancy.audit_entries(operator, entity_type="automation_rule")
    entities = a.services.tenancy.audit_entries(operator, entity_type="automation_entity")

    assert len(rules) == 3
    assert {e.api_key_id for e in rules} == {uuid_of(a.key_ids["all"])}
    assert len(entities) == 1
    other = Actor(workspace_id=tenants.b.workspace.id)
    assert tenants.b.services.tenancy.audit_entries(other, entity_type="automation_rule") == []


def uuid_of(text: str) -> Any:
    import uuid

    return uuid.UUID(text)
