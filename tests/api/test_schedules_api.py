"""``/api/v1/workspaces/{id}/schedules``: CRUD, pause/resume, fires, preview; scopes,
isolation between tenants and audit rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from spine import Step, Workflow
from spine.core.clock import FrozenClock
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.orchestration.registry import workflows
from spine.tenancy import Actor, AuditEntry
from tests.api.tenants import Tenant, Tenants

WF = "api_schedules.demo"
if WF not in workflows.names():
    Workflow(WF, [Step.lambda_("a", lambda ctx: {"ok": True})])

NIGHTLY: dict[str, Any] = {"name": "nightly", "target_name": WF, "cron_expression": "0 2 * * *"}


def _audit(tenant: Tenant) -> list[AuditEntry]:
    tenancy = tenant.services.tenancy
    return tenancy.audit_entries(Actor(workspace_id=tenant.workspace.id), entity_type="schedule")


def _created(tenant: Tenant, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = tenant.post("/schedules", "write", json=body or NIGHTLY)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def test_create_read_update_pause_resume_delete_each_audited_with_the_key(
    tenants: Tenants,
) -> None:
    a = tenants.a
    made = _created(
        a, {**NIGHTLY, "timezone": "Europe/Paris", "params": {"day": "{{ logical_time }}"}}
    )
    assert made["workspace_id"] == a.id and made["enabled"] is True
    assert made["timezone"] == "Europe/Paris" and made["next_run_at"]
    sid = made["id"]
    assert a.get(f"/schedules/{sid}", "read").json() == made
    assert a.get("/schedules/nightly", "read").json()["id"] == sid
    listed = a.get("/schedules", "read").json()
    assert [s["id"] for s in listed["items"]] == [sid] and listed["next_cursor"] is None

    patched = a.request("PATCH", f"/schedules/{sid}", "write", json={"max_instances": 3})
    assert patched.status_code == 200, patched.text
    assert patched.json()["max_instances"] == 3 and patched.json()["version"] == 2
    assert patched.json()["next_run_at"] == made["next_run_at"]
    moved = a.request("PATCH", f"/schedules/{sid}", "write", json={"interval_seconds": 600})
    assert moved.json()["schedule_type"] == "interval"
    assert moved.json()["cron_expression"] is None

    paused = a.post(f"/schedules/{sid}/pause", "write")
    assert paused.status_code == 200 and paused.json()["enabled"] is False
    assert paused.json()["next_run_at"] is None
    resumed = a.post(f"/schedules/{sid}/resume", "write")
    assert resumed.json()["enabled"] is True and resumed.json()["next_run_at"]
    assert a.get(f"/schedules/{sid}/fires", "read").json() == {"items": [], "next_cursor": None}

    assert a.request("DELETE", f"/schedules/{sid}", "write").status_code == 204
    assert a.get(f"/schedules/{sid}", "read").status_code == 404

    entries = list(reversed(_audit(a)))
    assert [e.action.value for e in entries] == [
        "create", "update", "update", "update", "update", "delete",
    ]  # fmt: skip
    assert {str(e.api_key_id) for e in entries} == {a.key_ids["write"]}
    assert {str(e.entity_id) for e in entries} == {str(entries[0].entity_id)}
    assert entries[1].changes == {"max_instances": {"old": 1, "new": 3}}
    assert entries[3].changes is not None
    assert entries[3].changes["enabled"] == {"old": True, "new": False}
    assert entries[0].changes is not None and entries[0].changes["name"]["new"] == "nightly"


def test_read_and_admin_keys_cannot_change_and_nothing_is_written(tenants: Tenants) -> None:
    a = tenants.a
    sid = _created(a)["id"]
    before = _audit(a)
    for kind in ("read", "admin"):
        refused = [
            a.post("/schedules", kind, json={**NIGHTLY, "name": "other"}),
            a.request("PATCH", f"/schedules/{sid}", kind, json={"max_instances": 2}),
            a.request("DELETE", f"/schedules/{sid}", kind),
            a.post(f"/schedules/{sid}/pause", kind),
            a.post(f"/schedules/{sid}/resume", kind),
        ]
        assert [r.status_code for r in refused] == [403] * 5, [r.text for r in refused]
    assert a.get("/schedules/other", "read").status_code == 404
    assert a.get(f"/schedules/{sid}", "read").json()["version"] == 1
    assert _audit(a) == before
    # Reads and the preview need only `read`; a write key without it may not read.
    assert a.get("/schedules", "write").status_code == 403
    assert a.post("/schedules/preview", "read", json={"cron_expression": "@daily"}).is_success


def test_another_tenant_gets_404_for_every_verb_and_sees_nothing(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    made = _created(a)
    sid = made["id"]
    before = _audit(a)

    def every_verb(call: Any, ref: str) -> list[httpx.Response]:
        return [
            call("GET", f"/schedules/{ref}"),
            call("PATCH", f"/schedules/{ref}", json={"max_instances": 2}),
            call("POST", f"/schedules/{ref}/pause"),
            call("POST", f"/schedules/{ref}/resume"),
            call("GET", f"/schedules/{ref}/fires"),
            call("DELETE", f"/schedules/{ref}"),
        ]

    # a's ids (and name) in b's own path, with b's key.
    for ref in (sid, "nightly"):
        answers = every_verb(lambda m, s, **kw: b.request(m, s, "all", **kw), ref)
        assert [r.status_code for r in answers] == [404] * 6, [r.text for r in answers]
        assert {r.json()["detail"] for r in answers} == {f"unknown schedule {ref!r}"}
    # b's key on a's path.
    answers = every_verb(
        lambda m, s, **kw: b.client.request(m, a.url(s), headers=b.headers("all"), **kw), sid
    )
    assert [r.status_code for r in answers] == [404] * 6
    assert b.client.get(a.url("/schedules"), headers=b.headers("read")).status_code == 404
    assert b.get("/schedules", "read").json() == {"items": [], "next_cursor": None}
    assert a.get(f"/schedules/{sid}", "read").json() == made
    assert _audit(a) == before and _audit(b) == []
    # The same name in each workspace.
    assert _created(b)["workspace_id"] == b.id
    assert len(b.get("/schedules", "read").json()["items"]) == 1


def test_taken_name_is_409_and_audits_nothing(tenants: Tenants) -> None:
    a = tenants.a
    _created(a)
    second = _created(a, {**NIGHTLY, "name": "second"})
    before = _audit(a)
    taken = a.post("/schedules", "write", json=NIGHTLY)
    assert taken.status_code == 409 and "already exists" in taken.json()["detail"]
    renamed = a.request("PATCH", f"/schedules/{second['id']}", "write", json={"name": "nightly"})
    assert renamed.status_code == 409
    assert _audit(a) == before


def test_body_fields_naming_workspace_id_or_creator_are_ignored(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    made = _created(
        a,
        {
            **NIGHTLY,
            "id": "01J00000000000000000000000",
            "workspace_id": b.id,
            "organization_id": str(b.workspace.organization_id),
            "created_by": "mallory",
            "version": 99,
        },
    )
    assert made["id"] != "01J00000000000000000000000"
    assert made["workspace_id"] == a.id and made["created_by"] is None
    assert made["version"] == 1
    patched = a.request(
        "PATCH", f"/schedules/{made['id']}", "write", json={"workspace_id": b.id, "id": "x"}
    )
    assert patched.status_code == 200 and patched.json()["workspace_id"] == a.id
    assert b.get("/schedules", "read").json()["items"] == []


def test_bad_input_is_a_clear_4xx(tenants: Tenants) -> None:
    a = tenants.a
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**NIGHTLY, "cron_expression": "61 * * * *"}, 422, "minute 61"),
        ({**NIGHTLY, "target_name": "nope"}, 404, "unknown workflow"),
        ({**NIGHTLY, "timezone": "Mars/Base"}, 422, "unknown time zone"),
        ({**NIGHTLY, "interval_seconds": 60}, 422, "exactly one"),
        ({**NIGHTLY, "name": "bad\x00name"}, 422, "NUL"),
        ({**NIGHTLY, "max_instances": 0}, 422, ""),
        ({**NIGHTLY, "dst_policy": "gap=later"}, 422, "DST"),
        ({"name": "x", "target_name": WF, "run_at": "2020-01-01T00:00:00"}, 422, "past"),
    ]
    for body, status, text in cases:
        response = a.post("/schedules", "write", json=body)
        assert response.status_code == status, (body, response.text)
        assert text in response.text
    assert a.post(
        "/schedules", "write", content=b"{", headers={"content-type": "x"}
    ).status_code in (
        400,
        415,
        422,
    )
    sid = _created(a)["id"]
    assert a.request("PATCH", f"/schedules/{sid}", "write", json={"name": None}).status_code == 422
    assert a.get("/schedules/%00%ff", "read").status_code == 404
    assert a.get("/schedules", "read").json()["items"][0]["version"] == 1
    assert len(_audit(a)) == 1


def test_preview_lists_bounded_fire_times(tenants: Tenants) -> None:
    a = tenants.a
    body = {
        "cron_expression": "30 2 * * *",
        "timezone": "America/New_York",
        "after": "2025-03-08T12:00:00+00:00",
        "count": 3,
    }
    times = a.post("/schedules/preview", "read", json=body).json()["times"]
    assert len(times) == 3 and times[0] == "2025-03-09T03:00:00-04:00"
    every = a.post("/schedules/preview", "read", json={"interval_seconds": 60, "count": 2})
    assert every.status_code == 200 and len(every.json()["times"]) == 2
    late = {"after": "9999-12-31T23:00:00+00:00", "count": 1000}
    for far in ({"cron_expression": "* * * * *"}, {"interval_seconds": 2**31 - 1}):
        answer = a.post("/schedules/preview", "read", json={**far, **late})
        assert answer.status_code in (200, 422), answer.text
    too_late = {"name": "x", "target_name": WF, "timezone": "America/New_York"}
    answer = a.post("/schedules", "write", json={**too_late, "run_at": "9999-12-31T23:59:59"})
    assert answer.status_code == 422, answer.text
    for count in (0, 5000):
        assert (
            a.post("/schedules/preview", "read", json={**body, "count": count}).status_code == 422
        )


def test_listings_page_by_cursor_bound_to_the_workspace(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    ids = [_created(a, {**NIGHTLY, "name": f"s{i}"})["id"] for i in range(3)]
    first = a.get("/schedules", "read", params={"limit": 2}).json()
    assert [s["id"] for s in first["items"]] == ids[:2] and first["next_cursor"]
    rest = a.get("/schedules", "read", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [s["id"] for s in rest.json()["items"]] == ids[2:]
    assert rest.json()["next_cursor"] is None
    foreign = b.get("/schedules", "read", params={"cursor": first["next_cursor"]})
    assert foreign.status_code == 400
    assert a.get("/schedules", "read", params={"limit": 500}).status_code == 422


def test_the_scheduler_fires_both_nightlies_each_run_in_its_workspace(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    every = {"name": "nightly", "target_name": WF, "interval_seconds": 60}
    made = {t.id: _created(t, every)["id"] for t in (a, b)}
    clock = tenants.live.services.clock
    assert isinstance(clock, FrozenClock)
    for _ in range(3):
        clock.advance(timedelta(seconds=60))
        outcomes = tenants.live.services.scheduler().tick()
        assert {o.workspace_id for o in outcomes} == {a.id, b.id}
    for tenant in (a, b):
        fires = tenant.get(f"/schedules/{made[tenant.id]}/fires", "read", params={"limit": 2})
        page = fires.json()
        assert len(page["items"]) == 2 and page["next_cursor"]
        older = tenant.get(
            f"/schedules/{made[tenant.id]}/fires",
            "read",
            params={"limit": 2, "cursor": page["next_cursor"]},
        ).json()
        assert len(older["items"]) == 1 and older["next_cursor"] is None
        times = [f["scheduled_at"] for f in page["items"] + older["items"]]
        assert times == sorted(times, reverse=True)
        run_ids = [f["run_id"] for f in page["items"] + older["items"]]
        with tenants.live.services.database.engine.connect() as conn:
            owners = conn.execute(
                sa.select(runs_t.c.workspace_id).where(runs_t.c.run_id.in_(run_ids))
            ).scalars()
            assert {str(w) for w in owners} == {tenant.id}
