"""``/api/v1/workspaces/{id}/runs`` and ``/workflows``: two tenants, every key, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from spine import Step, Workflow
from spine.orchestration.registry import workflows
from spine.tenancy import Actor, AuditEntry
from tests.api.tenants import Tenant, Tenants

PROBLEM = "application/problem+json"
WORKFLOW = "api_tests.wait"


@pytest.fixture(autouse=True)
def registered() -> Iterator[Workflow]:
    """A workflow in the deployment's registry (the one the API serves), removed after."""
    workflow = Workflow(
        WORKFLOW,
        [Step.wait("pause", seconds=3600)],
        domain="tests",
        params={"n": int},
    )
    yield workflow
    workflows._workflows.pop(WORKFLOW, None)


def _start(
    tenant: Tenant, kind: str = "all", headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    return tenant.post(
        "/runs", kind, json={"workflow_name": WORKFLOW, **body}, headers=headers or {}
    )


def _started(tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = _start(tenant, **body)
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


def _audit(tenant: Tenant) -> list[AuditEntry]:
    actor = Actor(workspace_id=tenant.workspace.id)
    return list(reversed(tenant.services.tenancy.audit_entries(actor, entity_type="run")))


def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)


def test_a_run_is_started_listed_shown_and_cancelled(tenants: Tenants) -> None:
    a = tenants.a
    run = _started(a, params={"n": "3"}, partition_key="2026-01-01")

    assert run["workflow_name"] == WORKFLOW
    assert run["status"] == "PENDING"
    assert run["params"] == {"n": 3}
    assert run["partition_key"] == "2026-01-01"
    assert run["domain"] == "tests"
    assert run["triggered_by"] == "api"
    assert run["workspace_id"] == a.id
    listed = a.get("/runs", "read")
    assert listed.status_code == 200, listed.text
    assert [r["run_id"] for r in listed.json()["items"]] == [run["run_id"]]
    assert listed.json()["next_cursor"] is None
    shown = a.get(f"/runs/{run['run_id']}", "read")
    assert shown.status_code == 200, shown.text
    assert shown.json()["run_id"] == run["run_id"]
    assert [e["event_type"] for e in shown.json()["events"]] == ["run.created"]
    assert shown.json()["steps"] == []
    # A ULID in lower case is the same run.
    assert a.get(f"/runs/{run['run_id'].lower()}", "read").status_code == 200

    cancelled = a.post(f"/runs/{run['run_id']}/cancel", "write")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"
    _problem(a.post(f"/runs/{run['run_id']}/cancel", "write"), 409)
    entries = _audit(a)
    assert [e.action.value for e in entries] == ["create", "update"]
    assert [str(e.api_key_id) for e in entries] == [a.key_ids["all"], a.key_ids["write"]]
    assert entries[0].changes["workflow_name"] == {"old": None, "new": WORKFLOW}
    assert entries[1].changes["status"] == {"old": "PENDING", "new": "CANCELLED"}


def test_the_read_key_cannot_start_or_cancel_and_nothing_is_written(tenants: Tenants) -> None:
    a = tenants.a
    run = _started(a)
    before = len(_audit(a))

    _problem(_start(a, "read"), 403)
    _problem(a.post(f"/runs/{run['run_id']}/cancel", "read"), 403)
    _problem(_start(a, "admin"), 403)

    assert len(a.get("/runs", "read").json()["items"]) == 1
    assert a.get(f"/runs/{run['run_id']}").json()["status"] == "PENDING"
    assert len(_audit(a)) == before


def test_another_tenant_gets_404_for_every_route_and_object(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    run = _started(a)
    before = len(_audit(a))

    for kind in ("read", "write", "all"):
        headers = b.headers(kind)
        # b's key on a's path.
        for method, suffix in (
            ("GET", "/runs"),
            ("POST", "/runs"),
            ("GET", f"/runs/{run['run_id']}"),
            ("POST", f"/runs/{run['run_id']}/cancel"),
            ("GET", "/workflows"),
        ):
            response = b.client.request(
                method, a.url(suffix), headers=headers, json={"workflow_name": WORKFLOW}
            )
            _problem(response, 404)
        # a's run id in b's path.
        if kind != "write":
            _problem(b.get(f"/runs/{run['run_id']}", kind), 404)
        if kind != "read":
            _problem(b.post(f"/runs/{run['run_id']}/cancel", kind), 404)

    assert b.get("/runs").json()["items"] == []
    assert a.get(f"/runs/{run['run_id']}").json()["status"] == "PENDING"
    assert len(_audit(a)) == before
    assert _audit(b) == []


def test_listings_show_only_the_workspace_whatever_the_filters(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    mine = [_started(a)["run_id"] for _ in range(3)]
    theirs = _started(b)["run_id"]

    for query in (
        {},
        {"workflow_name": WORKFLOW},
        {"status": "PENDING"},
        {"domain": "tests"},
        {"triggered_by": "api"},
    ):
        items = a.get("/runs", params=query).json()["items"]
        assert {r["run_id"] for r in items} == set(mine), query
        assert theirs not in {r["run_id"] for r in items}
    assert a.get("/runs", params={"triggered_by": "schedule"}).json()["items"] == []
    assert [r["run_id"] for r in b.get("/runs").json()["items"]] == [theirs]


def test_pages_go_newest_first_and_a_foreign_cursor_is_refused(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    started = [_started(a)["run_id"] for _ in range(5)]
    _started(b)
    _started(b)

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = a.get("/runs", "read", params=params).json()
        seen += [r["run_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(started, reverse=True)

    their_cursor = b.get("/runs", params={"limit": 1}).json()["next_cursor"]
    assert their_cursor is not None
    _problem(a.get("/runs", params={"cursor": their_cursor}), 400)
    _problem(a.get("/runs", params={"cursor": "not-a-cursor"}), 400)
    _problem(a.get("/runs", params={"limit": 201}), 422)


def test_body_fields_naming_workspace_id_or_creator_are_ignored(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    forged = "01J00000000000000000000000"

    run = _started(
        a,
        workspace_id=b.id,
        organization_id=b.id,
        run_id=forged,
        created_by="mallory",
        triggered_by="schedule",
        status="COMPLETED",
    )

    assert run["workspace_id"] == a.id
    assert run["run_id"] != forged
    assert run["created_by"] is None
    assert run["triggered_by"] == "api"
    assert run["status"] == "PENDING"
    assert b.get("/runs").json()["items"] == []


def test_an_idempotency_key_starts_one_run_per_workspace(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    key = {"Idempotency-Key": "nightly-2026-01-01"}

    first = _start(a, headers=key)
    again = _start(a, headers=key, params={"n": 9})
    theirs = _start(b, headers=key)

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["run_id"] == first.json()["run_id"]
    assert again.json()["idempotency_key"] == "nightly-2026-01-01"
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["run_id"] != first.json()["run_id"]
    assert len(_audit(a)) == 1
    _problem(_start(a, headers={"Idempotency-Key": "k" * 256}), 422)


def test_bad_starts_and_ids_are_clear_problems(tenants: Tenants) -> None:
    a = tenants.a

    _problem(a.post("/runs", json={"workflow_name": "nope"}), 404)
    _problem(_start(a, params={"n": "three"}), 422)
    _problem(_start(a, params=[1, 2]), 422)
    _problem(a.post("/runs", json={"params": {}}), 422)
    _problem(a.post("/runs", content=b"{", headers={"Content-Type": "application/json"}), 422)
    for bad in ("not-a-ulid", "8" * 26, "x" * 300, "%00"):
        _problem(a.get(f"/runs/{bad}"), 404)
        _problem(a.post(f"/runs/{bad}/cancel"), 404)
    _problem(a.get("/runs", params={"status": "BOGUS"}), 422)
    # NUL cannot be in PostgreSQL text: a clear 422, not a driver error.
    for name in ("workflow_name", "domain", "triggered_by"):
        _problem(a.get("/runs", params={name: "a\x00b"}), 422)
    _problem(_start(a, domain="a\x00b"), 422)
    _problem(_start(a, partition_key="\x00"), 422)
    _problem(a.client.get("/history/runs", params={"workflow_name": "\x00"}), 422)
    _problem(
        a.get("/runs", params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}),
        422,
    )
    assert a.get("/runs").json()["items"] == []
    assert _audit(a) == []


def test_workflows_lists_the_deployments_workflows(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b

    listed = a.get("/workflows", "read")

    assert listed.status_code == 200, listed.text
    mine = [w for w in listed.json()["items"] if w["workflow_name"] == WORKFLOW]
    assert mine == [
        {
            "workflow_name": WORKFLOW,
            "workflow_version": 1,
            "domain": "tests",
            "params": {"n": "int"},
            "steps": [
                {
                    "step_order": 0,
                    "step_name": "pause",
                    "step_type": "wait",
                    "max_attempts": 1,
                    "timeout_seconds": None,
                    "pipeline_name": None,
                    "child_workflow_name": None,
                }
            ],
        }
    ]
    assert b.get("/workflows", "read").json() == listed.json()


def test_history_shows_only_the_keys_workspace(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    mine = _started(a)["run_id"]
    theirs = _started(b)["run_id"]

    listed = a.client.get("/history/runs", headers=a.headers("read"))

    assert listed.status_code == 200, listed.text
    assert [r["run_id"] for r in listed.json()] == [mine]
    assert listed.headers["X-Total-Count"] == "1"
    _problem(a.client.get(f"/history/runs/{theirs}", headers=a.headers("read")), 404)
    stats = a.client.get("/history/statistics", headers=a.headers("read")).json()
    assert stats["total_runs"] == 1
    # The default workspace's key (the client's own) sees neither.
    assert tenants.live.client.get("/history/runs").headers["X-Total-Count"] == "0"
