"""Isolation over the whole API, read from its own OpenAPI document.

Tenant a makes one of everything through the API. Then tenant b's key, holding every
scope, tries every operation of every workspace route twice: on a's workspace path, and
on its own path with a's object ids. Every answer must be 404, nothing of a's may change,
and b's listings must never show a's rows. A new route is covered the day it is added:
an object parameter this test cannot fill fails it until it can.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from spine.core.errors import Conflict
from spine.core.ids import new_id
from spine.orchestration.registry import workflows
from spine.orchestration.steps import Step
from spine.orchestration.workflow import Workflow
from spine.tenancy import ALL_SCOPES, Actor
from tests.api.tenants import Tenant, Tenants

WF = "api_isolation.demo"
#: The user a's automation alert is for (users are shared; their alerts are not).
RECIPIENT = "iso@example.com"
if WF not in workflows.names():
    Workflow(WF, [Step.lambda_("a", lambda ctx: {"ok": True})])

PREFIX = "/api/v1/workspaces/{workspace_id}"


@pytest.fixture(autouse=True)
def _sealed_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Channel secrets are sealed with a configured key on PostgreSQL (a key file on SQLite).
    monkeypatch.setenv("SPINE_SECRET_KEY", Fernet.generate_key().decode())


#: What tenant a makes: the collection it posts to, the body, and the path parameter its
#: id fills.
SEEDS: list[tuple[str, dict[str, Any], str]] = [
    (
        "/schedules",
        {"name": "nightly", "target_name": WF, "cron_expression": "0 2 * * *"},
        "schedule",
    ),
    (
        "/alert-channels",
        {
            "name": "ops",
            "channel_type": "webhook",
            "config_json": {
                "url": "https://hooks.example.com/spine",
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            },
        },
        "channel_id",
    ),
    (
        "/sources",
        {"name": "otc", "source_type": "file", "config_json": {"path": "/nonexistent/otc.psv"}},
        "source_id",
    ),
    (
        "/connections",
        {"name": "warehouse", "dialect": "sqlite", "database": "/nonexistent/w.db"},
        "connection_id",
    ),
    (
        "/webhooks",
        {
            "name": "quality",
            "url": "https://hooks.example.com/quality",
            "events": ["incident.created", "check.failed"],
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        },
        "webhook_id",
    ),
    ("/runs", {"workflow_name": WF, "params": {}}, "run_id"),
    ("/alerts", {"severity": "ERROR", "title": "t", "message": "m", "source": "tests"}, "alert_id"),
    (
        "/checks",
        {
            "name": "rows",
            "connection_name": "warehouse",
            "check_type": "row_count",
            "target_table": "orders",
        },
        "check_id",
    ),
    ("/checks/{check_id}/run", {}, "job_id"),
]

#: Tenant a's automation rule: an alert for a user every workspace may have a key for.
RULE: dict[str, Any] = {
    "name": "shipped",
    "entity": "iso_orders",
    "trigger": "on_create",
    "conditions": [{"field_name": "status", "operator": "equals", "value": "shipped"}],
    "actions": [
        {
            "name": "tell",
            "type": "create_alert",
            "execution_order": 1,
            "config": {
                "severity": "high",
                "title": "order {{ new.id }} shipped",
                "message": "m",
                "recipients": [{"type": "user", "email": RECIPIENT}],
            },
        }
    ],
}

#: Bodies that would be accepted if the object were b's own, so that a 404 shows the
#: lookup refused it, not the validation.
PATCHES: dict[str, dict[str, Any]] = {
    "schedule": {"max_instances": 2},
    "channel_id": {"enabled": False},
    "source_id": {"enabled": False},
    "connection_id": {"pool_size": 3},
    "check_id": {"severity": "warning"},
    "webhook_id": {"enabled": False},
    "rule_id": {"is_active": False},
}
#: Bodies of POSTs that take one, accepted if the object were b's own (as PATCHES).
POSTS: dict[str, dict[str, Any]] = {
    "/incidents/{incident_id}/acknowledge": {"by": "b"},
    "/automation/rules/{rule_id}": RULE,
    "/automation/rules/{rule_id}/test": {"operation": "insert", "new": {"status": "shipped"}},
    "/automation/alerts/{alert_id}/acknowledge": {"user": RECIPIENT},
    "/automation/alerts/{alert_id}/dismiss": {"user": RECIPIENT},
}


def _operations(tenants: Tenants) -> list[tuple[str, str]]:
    document = tenants.a.client.get("/openapi.json").json()
    return [
        (method.upper(), path.removeprefix(PREFIX))
        for path, operations in document["paths"].items()
        if path.startswith(PREFIX)
        for method in operations
    ]


def _seed(tenant: Tenant) -> dict[str, str]:
    ids: dict[str, str] = {"dlq_id": new_id(), "key_id": tenant.key_ids["read"]}
    for collection, body, parameter in SEEDS:
        response = tenant.post(_fill(collection, ids), json=body)
        if response.status_code == 404 and collection == "/runs":
            continue  # the runs router is not there
        assert response.status_code in (200, 201, 202), (collection, response.text)
        made = response.json()
        ids[parameter] = str(made.get("id") or made["run_id"])
    # An incident is opened by a failing run: the check's database does not exist.
    tenant.services.quality.run_checks(["rows"])
    incident = tenant.services.quality.open_incident("rows")
    assert incident is not None
    ids["incident_id"] = str(incident.id)
    ids.update(_seed_automation(tenant))
    return ids


def _seed_automation(tenant: Tenant) -> dict[str, str]:
    """A watched table, a rule, and the execution and alert a change of the table made."""
    with suppress(Conflict):  # users are shared: b's seeding finds a's
        tenant.services.tenancy.add_user(RECIPIENT)
    with tenant.services.database.write() as conn:
        conn.execute(
            sa.text("CREATE TABLE IF NOT EXISTS iso_orders (id INTEGER PRIMARY KEY, status TEXT)")
        )
    entity = tenant.post("/automation/entities", json={"table": "iso_orders"})
    assert entity.status_code == 201, entity.text
    rule = tenant.post("/automation/rules", json=RULE)
    assert rule.status_code == 201, rule.text
    with tenant.services.database.write() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO iso_orders (id, status) "
                "SELECT coalesce(max(id), 0) + 1, 'shipped' FROM iso_orders"
            )
        )
    tenant.services.automation.dispatcher().run_once()
    executions = tenant.get("/automation/executions").json()["items"]
    alerts = tenant.get("/automation/alerts").json()["items"]
    return {
        "entity_id": entity.json()["id"],
        "rule_id": rule.json()["id"],
        "execution_id": executions[0]["id"],
        "automation_alert_id": alerts[0]["id"],
    }


def _fill(path: str, ids: dict[str, str]) -> str:
    # Alerts for people and spine's alerts both call their id `alert_id`.
    people = "/automation/alerts/{alert_id}"
    out = path.replace(people, people.replace("{alert_id}", ids.get("automation_alert_id", "")))
    for name, value in ids.items():
        out = out.replace("{" + name + "}", value)
    assert "{" not in out, f"no id of tenant a for {path}: add it to SEEDS"
    return out


def _body(method: str, path: str) -> dict[str, Any] | None:
    if method == "PATCH":
        return next(body for name, body in PATCHES.items() if "{" + name + "}" in path)
    return POSTS.get(path, {}) if method in ("POST", "PUT") else None


def _state(
    tenant: Tenant, operations: list[tuple[str, str]], ids: dict[str, str]
) -> dict[str, Any]:
    # Everything a's key can read of a's workspace.
    seen: dict[str, Any] = {}
    for method, path in operations:
        if method == "GET":
            response = tenant.get(_fill(path, ids))
            seen[path] = (response.status_code, response.json())
    return seen


def test_another_workspaces_key_gets_404_for_everything_and_changes_nothing(
    tenants: Tenants,
) -> None:
    a, b = tenants.a, tenants.b
    operations = _operations(tenants)
    assert len(operations) > 20
    ids = _seed(a)
    before = _state(a, operations, ids)
    audit_before = len(
        a.services.tenancy.audit_entries(Actor(workspace_id=a.workspace.id), limit=1000)
    )

    wrong: list[str] = []
    for method, path in operations:
        filled = _fill(path, ids)
        body = _body(method, path)
        # b's key on a's workspace path.
        on_a = b.client.request(method, a.url(filled), headers=b.headers(), json=body)
        if on_a.status_code != 404:
            wrong.append(f"{method} a's path {path}: {on_a.status_code}")
        # b's own path with a's object ids.
        if "{" in path:
            on_b = b.request(method, filled, json=body)
            if on_b.status_code != 404:
                wrong.append(f"{method} b's path with a's ids {path}: {on_b.status_code}")

    assert wrong == []
    assert _state(a, operations, ids) == before
    audit_after = len(
        a.services.tenancy.audit_entries(Actor(workspace_id=a.workspace.id), limit=1000)
    )
    assert audit_after == audit_before


def test_listings_never_show_another_workspaces_rows(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    operations = _operations(tenants)
    ids = _seed(a)
    _seed(b)

    # b's key for the user a's alert is addressed to: the user is shared, a's alert is not.
    recipient = b.services.tenancy.create_key(
        Actor(workspace_id=b.workspace.id), name="user", scopes=ALL_SCOPES, user=RECIPIENT
    )
    as_recipient = {"Authorization": f"Bearer {recipient.secret}"}
    leaks: list[str] = []
    for method, path in operations:
        if method != "GET" or "{" in path:
            continue
        for query in ({}, {"limit": 200}, {"workspace_id": str(a.workspace.id)}):
            headers = as_recipient if path == "/automation/alerts/mine" else {}
            response = b.get(path, params=query, headers=headers)
            assert response.status_code == 200, (path, response.text)
            text = response.text
            leaks += [f"{path} shows a's {name}" for name, value in ids.items() if value in text]
    assert leaks == []


@pytest.mark.parametrize("kind", ["read", "write", "admin"])
def test_a_key_of_one_scope_is_404_not_403_on_another_workspace(
    tenants: Tenants, kind: str
) -> None:
    # The workspace check comes before the scope check: a key learns nothing of others.
    a, b = tenants.a, tenants.b
    for method, path in _operations(tenants):
        if "{" in path:
            continue
        response = b.client.request(
            method, a.url(path), headers=b.headers(kind), json=_body(method, path)
        )
        assert response.status_code == 404, (kind, method, path, response.status_code)
