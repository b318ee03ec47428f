"""Checks, jobs, results, incidents and the summary over HTTP, on SQLite and PostgreSQL.

Tenant a registers a SQLite file holding ``orders`` as connection ``warehouse`` and works
on it through the API with keys of each scope; runs happen through the API (a queued job
a worker executes) and through the service the CLI calls.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.api.tenants import Tenant, Tenants

# 8 rows; customer_id null in 1 (12.5 %).
ORDERS = [(i, None if i == 3 else f"c{i}", float(i) * 1.5) for i in range(1, 9)]


@pytest.fixture(autouse=True)
def _sealed_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Mirrored connection configs are sealed with a configured key on PostgreSQL.
    monkeypatch.setenv("SPINE_SECRET_KEY", Fernet.generate_key().decode())


@pytest.fixture
def a(tenants: Tenants, tmp_path: Path) -> Tenant:
    """Tenant a with connection ``warehouse`` onto a SQLite file holding ``orders``."""
    data = tmp_path / "data.db"
    with sqlite3.connect(data) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, customer_id TEXT, amount REAL)")
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?)", ORDERS)
    conn.close()
    made = tenants.a.post(
        "/connections", json={"name": "warehouse", "dialect": "sqlite", "database": str(data)}
    )
    assert made.status_code == 201, made.text
    return tenants.a


ROWS = {
    "name": "rows",
    "connection_name": "warehouse",
    "check_type": "row_count",
    "target_table": "orders",
    "config": {"min": 1},
}
NULLS = {
    "name": "customer_nulls",
    "connection_name": "warehouse",
    "check_type": "null_percent",
    "target_table": "orders",
    "target_column": "customer_id",
    "config": {"max": 10},
    "tags": ["sales"],
}


def _create(tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    response = tenant.post("/checks", json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def test_a_check_is_created_read_listed_changed_and_deleted(a: Tenant) -> None:
    made = _create(a, NULLS)
    _create(a, ROWS)

    assert (made["name"], made["check_type"], made["target_type"]) == (
        "customer_nulls",
        "null_percent",
        "column",
    )
    assert (made["target_table"], made["target_column"], made["target_schema"]) == (
        "orders",
        "customer_id",
        None,
    )
    assert (made["severity"], made["enabled"], made["tags"]) == ("error", True, ["sales"])
    assert made["connection_name"] == "warehouse"
    assert made["cron_expression"] is None
    assert a.get(f"/checks/{made['id']}").json() == made
    assert a.get("/checks/customer_nulls").json() == made  # by name too

    first = a.get("/checks", params={"limit": 1}).json()
    second = a.get("/checks", params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [c["name"] for c in first["items"]] == ["customer_nulls"]
    assert [c["name"] for c in second["items"]] == ["rows"]
    assert second["next_cursor"] is None
    assert [c["name"] for c in a.get("/checks", params={"tag": "sales"}).json()["items"]] == [
        "customer_nulls"
    ]
    assert a.get("/checks", params={"table": "items"}).json()["items"] == []

    changed = a.request(
        "PATCH",
        f"/checks/{made['id']}",
        json={"severity": "warning", "cron_expression": "*/15 * * * *", "timezone": "Asia/Tokyo"},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["severity"], changed.json()["cron_expression"]) == (
        "warning",
        "*/15 * * * *",
    )
    assert changed.json()["timezone"] == "Asia/Tokyo"
    unscheduled = a.request("PATCH", "/checks/customer_nulls", json={"cron_expression": None})
    assert (unscheduled.json()["cron_expression"], unscheduled.json()["timezone"]) == (None, None)
    assert unscheduled.json()["severity"] == "warning"  # the rest stays

    assert a.request("DELETE", f"/checks/{made['id']}").status_code == 204
    gone = a.get(f"/checks/{made['id']}")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"connection_name": "nowhere"}, 404, "nowhere"),
        ({"check_type": "row_cont"}, 422, "row_cont"),
        ({"target_table": "orderz"}, 422, "orderz"),
        ({"target_column": "customer"}, 422, "customer"),
        ({"config": {"max": "ten"}}, 422, "max"),
        ({"severity": "critical"}, 422, ""),
        ({"cron_expression": "61 * * * *"}, 422, "61"),
        ({"name": "rows"}, 409, "rows"),
    ],
)
def test_a_bad_check_is_refused_with_a_problem_and_nothing_saved(
    a: Tenant, change: dict[str, Any], status: int, text: str
) -> None:
    _create(a, ROWS)

    response = a.post("/checks", json={**NULLS, **change})

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert text in response.json().get("detail", "") or status == 422
    assert [c["name"] for c in a.get("/checks").json()["items"]] == ["rows"]


def test_changes_need_the_write_scope(a: Tenant) -> None:
    made = _create(a, ROWS)

    assert a.post("/checks", kind="read", json=NULLS).status_code == 403
    assert a.post(f"/checks/{made['id']}/run", kind="read").status_code == 403
    assert a.request("DELETE", f"/checks/{made['id']}", kind="read").status_code == 403
    assert a.get(f"/checks/{made['id']}", kind="read").status_code == 200


def test_run_queues_a_job_that_a_worker_completes_with_its_result(a: Tenant) -> None:
    made = _create(a, ROWS)

    queued = a.post(f"/checks/{made['id']}/run")

    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert (job["status"], job["check_id"], job["triggered_by"]) == ("queued", made["id"], "api")
    assert a.get("/jobs").json()["items"] == [job]
    assert a.get("/jobs", params={"status": "completed"}).json()["items"] == []

    assert a.services.check_worker().drain() == 1

    done = a.get(f"/jobs/{job['id']}").json()
    assert done["status"] == "completed"
    (result,) = a.get(f"/checks/{made['id']}/results").json()["items"]
    assert done["result_id"] == result["id"]
    assert (result["sensor_value"], result["sensor_value_text"]) == (8, "8")
    assert result["rule_passed"] is True
    assert a.get("/jobs", params={"check": "rows", "status": "completed"}).json()["items"] == [done]
    assert a.get("/jobs", params={"status": "finished"}).status_code == 422


def test_results_are_paged_newest_first_and_exact(a: Tenant) -> None:
    _create(a, NULLS)
    quality = a.services.quality
    for _ in range(3):
        quality.run_checks(["customer_nulls"])

    first = a.get("/checks/customer_nulls/results", params={"limit": 2}).json()
    rest = a.get(
        "/checks/customer_nulls/results", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    later = a.get("/checks/customer_nulls/results", params={"since": "2999-01-01T00:00:00Z"})

    ids = [r["id"] for r in first["items"] + rest["items"]]
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)
    assert rest["next_cursor"] is None
    newest = first["items"][0]
    assert newest["sensor_value"] == 12.5
    assert newest["sensor_value_text"] == "12.5"
    assert (newest["rule_passed"], newest["severity"]) == (False, "error")
    assert later.json()["items"] == []
    assert a.get("/checks/customer_nulls/results", params={"cursor": "bogus"}).status_code == 400


def test_an_incident_is_listed_acknowledged_and_resolved(a: Tenant) -> None:
    _create(a, NULLS)
    a.services.quality.run_checks(["customer_nulls"])
    a.services.quality.run_checks(["customer_nulls"])

    (incident,) = a.get("/incidents").json()["items"]
    assert (incident["check_name"], incident["status"], incident["failure_count"]) == (
        "customer_nulls",
        "open",
        2,
    )
    ident = incident["id"]
    assert a.get(f"/incidents/{ident}").json() == incident
    assert a.get("/incidents", params={"status": "resolved"}).json()["items"] == []
    assert a.post(f"/incidents/{ident}/acknowledge", kind="read", json={"by": "x"}).status_code == (
        403
    )
    assert a.post(f"/incidents/{ident}/acknowledge", json={}).status_code == 422

    acked = a.post(f"/incidents/{ident}/acknowledge", json={"by": "ada", "notes": "looking"})
    assert acked.status_code == 200, acked.text
    assert (acked.json()["status"], acked.json()["acknowledged_by"]) == ("acknowledged", "ada")
    resolved = a.post(f"/incidents/{ident}/resolve", json={"notes": "backfilled"})
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["resolution_notes"]) == (
        "resolved",
        "backfilled",
    )
    again = a.post(f"/incidents/{ident}/resolve", json={})
    assert again.status_code == 409, again.text
    closed = a.get("/incidents", params={"status": "resolved"}).json()["items"]
    assert [i["id"] for i in closed] == [ident]
    assert a.get("/incidents", params={"status": "closed"}).status_code == 422


def test_the_summary_and_the_catalogue(a: Tenant) -> None:
    _create(a, ROWS)
    _create(a, {**NULLS, "cron_expression": "0 6 * * *"})
    a.services.quality.run_checks(all_checks=True)

    summary = a.get("/quality/summary").json()
    types = {t["name"]: t for t in a.get("/checks/types", kind="read").json()}

    latest = {row["name"]: row for row in summary["latest"]}
    assert (latest["rows"]["last_passed"], latest["rows"]["last_value"]) == (True, 8)
    assert latest["customer_nulls"]["last_value"] == 12.5
    assert summary["pass_rate_by_table"] == [
        {"target_table": "orders", "total_runs": 2, "passed": 1, "pass_rate": 50.0}
    ]
    assert [i["check_name"] for i in summary["open_incidents"]] == ["customer_nulls"]
    assert isinstance(summary["due"], list)
    assert types["row_count"]["level"] == "table"
    assert "condition" in types["failed_rows"]["config_keys"]


def test_a_patch_is_checked_as_a_new_check_is_and_changes_nothing_when_refused(
    a: Tenant,
) -> None:
    made = _create(a, NULLS)
    path = f"/checks/{made['id']}"

    refused = {
        "null severity": a.request("PATCH", path, json={"severity": None}),
        "no such column": a.request("PATCH", path, json={"target_column": "customer"}),
        "no such table": a.request("PATCH", path, json={"target_table": "orderz"}),
        "bad config": a.request("PATCH", path, json={"config": {"maximum": 1}}),
        "column-level type without a column": a.request(
            "PATCH", path, json={"target_column": None}
        ),
    }
    moved = a.request("PATCH", path, json={"check_type": "row_count", "target_column": None})

    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 422)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["check_type"], moved.json()["target_type"]) == ("row_count", "table")
    assert moved.json()["target_column"] is None
    assert {
        k: v
        for k, v in moved.json().items()
        if k not in ("check_type", "target_type", "target_column", "updated_at")
    } == {
        k: v
        for k, v in made.items()
        if k not in ("check_type", "target_type", "target_column", "updated_at")
    }
