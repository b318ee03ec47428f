"""Spec 002's ``/history`` endpoints, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx

from spine import Step, Workflow
from spine.api.history import MAX_OFFSET, MAX_PAGE, MAX_RETENTION_DAYS
from spine.orchestration.history import WorkflowRun, WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from tests.api.conftest import LiveApi
from tests.orchestration.history.factories import START

PROBLEM = "application/problem+json"
SPEC_RUN_FIELDS = {
    "run_id",
    "workflow_name",
    "domain",
    "status",
    "started_at",
    "completed_at",
    "duration_seconds",
    "error",
    "triggered_by",
}


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [run["run_id"] for run in response.json()]


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _assert_problem(response: httpx.Response, status: int, path: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["instance"] == path
    assert body["title"] and body["detail"]
    return body


def _five_runs(api: LiveApi) -> list[WorkflowRun]:
    """Five runs one hour apart, oldest first."""
    history = api.history
    specs = [
        ("finra.weekly_ingest", "finra", WorkflowStatus.COMPLETED),
        ("finra.weekly_ingest", "finra", WorkflowStatus.FAILED),
        ("sec.filings", "sec", WorkflowStatus.COMPLETED),
        ("finra.weekly_ingest", "sec", WorkflowStatus.RUNNING),
        ("sec.filings", "finra", WorkflowStatus.CANCELLED),
    ]
    runs = []
    for name, domain, status in specs:
        runs.append(history.record(status, workflow_name=name, domain=domain, seconds=60))
        history.clock.advance(timedelta(minutes=59))
    return runs


def test_list_runs_filters_newest_first(api: LiveApi) -> None:
    a, b, c, d, e = _five_runs(api)
    get = api.client.get

    everything = get("/history/runs")
    assert _ids(everything) == [e.run_id, d.run_id, c.run_id, b.run_id, a.run_id]
    assert everything.headers["x-total-count"] == "5"
    assert _ids(get("/history/runs", params={"workflow_name": "sec.filings"})) == [
        e.run_id,
        c.run_id,
    ]
    assert _ids(get("/history/runs", params={"domain": "sec"})) == [d.run_id, c.run_id]
    assert _ids(get("/history/runs", params={"status": "FAILED"})) == [b.run_id]
    since = (START + timedelta(hours=2)).isoformat()
    assert _ids(get("/history/runs", params={"since": since})) == [e.run_id, d.run_id, c.run_id]
    until = "2025-01-10T13:00:00Z"
    assert _ids(get("/history/runs", params={"until": until})) == [b.run_id, a.run_id]
    both = get(
        "/history/runs",
        params={"workflow_name": "finra.weekly_ingest", "domain": "finra", "since": since},
    )
    assert (_ids(both), both.headers["x-total-count"]) == ([], "0")


def test_list_runs_pages_with_limit_and_offset(api: LiveApi) -> None:
    a, b, c, d, e = _five_runs(api)
    get = api.client.get

    first = get("/history/runs", params={"limit": 2})
    second = get("/history/runs", params={"limit": 2, "offset": 2})
    last = get("/history/runs", params={"limit": 2, "offset": 4})
    beyond = get("/history/runs", params={"limit": 2, "offset": 5})

    assert [_ids(first), _ids(second), _ids(last), _ids(beyond)] == [
        [e.run_id, d.run_id],
        [c.run_id, b.run_id],
        [a.run_id],
        [],
    ]
    assert {r.headers["x-total-count"] for r in (first, second, last, beyond)} == {"5"}
    failed = get("/history/runs", params={"status": "COMPLETED", "limit": 1, "offset": 1})
    assert (_ids(failed), failed.headers["x-total-count"]) == ([a.run_id], "2")


def test_list_runs_returns_spec_002_fields(api: LiveApi) -> None:
    run = api.history.record(WorkflowStatus.FAILED, seconds=90)

    [body] = api.client.get("/history/runs").json()

    assert set(body) >= SPEC_RUN_FIELDS
    assert body == {
        "run_id": run.run_id,
        "workflow_name": "finra.weekly_ingest",
        "domain": "finra.otc_transparency",
        "status": "FAILED",
        "started_at": START.isoformat(),
        "completed_at": (START + timedelta(seconds=90)).isoformat(),
        "duration_seconds": 90.0,
        "error": "boom",
        "triggered_by": "manual",
        "partition_key": None,
        "created_at": START.isoformat(),
    }


def test_get_run_shows_the_run_its_steps_and_its_events(api: LiveApi) -> None:
    run = api.history.record(
        WorkflowStatus.COMPLETED, steps=("fetch", "load"), params={"tier": "T1"}
    )
    store = api.history.store
    saved = store.get_workflow_run(run.run_id)
    assert saved is not None

    response = api.client.get(f"/history/runs/{run.run_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["run"] == _json(saved.to_dict())
    assert body["steps"] == _json([s.to_dict() for s in store.get_step_runs(run.run_id)])
    assert body["events"] == _json([e.to_dict() for e in store.get_events(run.run_id)])
    assert [s["step_order"] for s in body["steps"]] == [0, 1]
    assert [e["event_type"] for e in body["events"]] == [
        "run.running",
        "step.running",
        "step.completed",
        "step.running",
        "step.completed",
        "run.completed",
    ]


def test_an_unknown_run_is_a_404_problem(api: LiveApi) -> None:
    api.history.record()

    response = api.client.get("/history/runs/01JNOSUCHRUN0000000000000")

    body = _assert_problem(response, 404, "/history/runs/01JNOSUCHRUN0000000000000")
    assert body["title"] == "Not Found"
    assert "01JNOSUCHRUN0000000000000" in body["detail"]


def test_bad_filter_values_are_422_problems(offline_api: LiveApi) -> None:
    # Refused before the store is asked: one backend is enough.
    api = offline_api
    requests = [
        ("GET", "/history/runs", {"status": "DONE"}, "status"),
        ("GET", "/history/runs", {"status": "completed"}, "status"),
        ("GET", "/history/runs", {"since": "yesterday"}, "since"),
        ("GET", "/history/runs", {"until": "2025-13-40"}, "until"),
        ("GET", "/history/runs", {"limit": 500}, "limit"),
        ("GET", "/history/runs", {"limit": 0}, "limit"),
        ("GET", "/history/runs", {"offset": -1}, "offset"),
        ("GET", "/history/statistics", {"since": "last week"}, "since"),
        ("DELETE", "/history/runs/old", {"days": 0}, "days"),
        ("DELETE", "/history/runs/old", {"days": "ninety"}, "days"),
    ]
    for method, path, params, name in requests:
        response = api.client.request(method, path, params=params)
        body = _assert_problem(response, 422, path)
        assert [e["loc"] for e in body["errors"]] == [["query", name]], body
        assert body["detail"].startswith(f"{name}: "), body

    for since, until in [
        ("2025-01-11T00:00:00Z", "2025-01-10T00:00:00Z"),
        ("2025-01-11T00:00:00", "2025-01-11T01:00:00+02:00"),  # no offset: UTC
    ]:
        reversed_range = api.client.get("/history/runs", params={"since": since, "until": until})
        assert _assert_problem(reversed_range, 422, "/history/runs")["detail"] == (
            "since is after until"
        )


def test_statistics_count_the_runs(api: LiveApi) -> None:
    history = api.history
    history.record(WorkflowStatus.COMPLETED, seconds=10)
    history.record(WorkflowStatus.FAILED, seconds=20)
    since = history.clock.now()
    history.record(WorkflowStatus.COMPLETED, seconds=30)
    history.record(WorkflowStatus.COMPLETED, seconds=40)
    history.record(WorkflowStatus.RUNNING)
    history.record(WorkflowStatus.FAILED, workflow_name="sec.filings", seconds=5)

    everything = api.client.get("/history/statistics")
    ingest = api.client.get("/history/statistics", params={"workflow_name": "finra.weekly_ingest"})
    recent = api.client.get(
        "/history/statistics",
        params={"workflow_name": "finra.weekly_ingest", "since": since.isoformat()},
    )

    assert everything.json() == {
        "total_runs": 6,
        "completed": 3,
        "failed": 2,
        "success_rate": 0.5,
        "avg_duration_seconds": 21.0,
        "cancelled": 0,
        "running": 1,
        "pending": 0,
    }
    assert ingest.json()["total_runs"] == 5
    assert ingest.json()["avg_duration_seconds"] == 25.0
    assert recent.json() == {
        "total_runs": 3,
        "completed": 2,
        "failed": 0,
        "success_rate": 2 / 3,
        "avg_duration_seconds": 35.0,
        "cancelled": 0,
        "running": 1,
        "pending": 0,
    }


def test_delete_old_runs_keeps_running_runs(api: LiveApi) -> None:
    history = api.history
    old_done = history.record(WorkflowStatus.COMPLETED)
    old_failed = history.record(WorkflowStatus.FAILED)
    old_running = history.record(WorkflowStatus.RUNNING)
    history.clock.advance(timedelta(days=60))
    recent = history.record(WorkflowStatus.COMPLETED)
    history.clock.advance(timedelta(days=40))

    kept_by_default = api.client.delete("/history/runs/old")  # 90 days
    assert kept_by_default.json() == {"deleted": 2}
    assert api.client.delete("/history/runs/old", params={"days": 90}).json() == {"deleted": 0}
    assert api.client.delete("/history/runs/old", params={"days": 30}).json() == {"deleted": 1}

    assert _ids(api.client.get("/history/runs")) == [old_running.run_id]
    for gone in (old_done, old_failed, recent):
        assert api.client.get(f"/history/runs/{gone.run_id}").status_code == 404
    assert api.client.get(f"/history/runs/{old_running.run_id}").json()["steps"]


def test_health_says_ok(api: LiveApi) -> None:
    response = api.client.get("/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


def test_paging_values_out_of_range_are_422_problems_never_500(api: LiveApi) -> None:
    # Every list endpoint of /history (today: /history/runs), on both backends: a value
    # the database would have to take is bounded before the query is built.
    _five_runs(api)
    refused = {
        "offset": ["123456789012345678901", str(2**63), "-1", "-123456789012345678901", "ten",
                   "1.5", ""],
        "limit": ["123456789012345678901", str(MAX_PAGE + 1), "0", "-1", "ten", "1.5"],
    }  # fmt: skip
    for name, values in refused.items():
        for value in values:
            response = api.client.get("/history/runs", params={name: value})
            body = _assert_problem(response, 422, "/history/runs")
            assert [e["loc"] for e in body["errors"]] == [["query", name]], (value, body)
            assert body["detail"].startswith(f"{name}: "), body

    furthest = api.client.get("/history/runs", params={"offset": MAX_OFFSET, "limit": MAX_PAGE})
    assert _ids(furthest) == []
    assert furthest.headers["X-Total-Count"] == "5"


def test_retention_days_out_of_range_are_422_problems_never_500(api: LiveApi) -> None:
    for days in ["123456789012345678901", str(MAX_RETENTION_DAYS + 1), "-1"]:
        response = api.client.delete("/history/runs/old", params={"days": days})
        body = _assert_problem(response, 422, "/history/runs/old")
        assert [e["loc"] for e in body["errors"]] == [["query", "days"]], (days, body)
    kept = api.client.delete("/history/runs/old", params={"days": MAX_RETENTION_DAYS})
    assert kept.json() == {"deleted": 0}


def test_a_failed_step_object_carries_its_trimmed_traceback(api: LiveApi) -> None:
    registry = WorkflowRegistry()

    def read_rows(ctx: object) -> None:
        raise KeyError("week_ending")

    Workflow("api.boom", [Step.lambda_("read", read_rows)], registry=registry)
    runner = WorkflowRunner(RunStore(api.services.database), workflow_registry=registry)
    run = runner.run("api.boom")

    body = api.client.get(f"/history/runs/{run.run_id}").json()

    [step] = body["steps"]
    assert step["status"] == "FAILED"
    assert "in read_rows" in step["error_traceback"]
    assert "KeyError: 'week_ending'" in step["error_traceback"]
    assert "spine/orchestration" not in step["error_traceback"]
