"""The runs pages in a real browser: list, filters, a run's Gantt chart, cancel and retry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from spine.orchestration.history import WorkflowStatus
from tests.web.conftest import Dashboard, accessibility_violations, log_in, screenshot
from tests.web.run_workflows import ETL, PAUSE, registered, seed_runs


@pytest.fixture(autouse=True)
def _workflows() -> Iterator[None]:
    with registered():
        yield


def _rows(page: Any) -> list[str]:
    rows = page.locator("table.runs tbody tr")
    return list(rows.evaluate_all("rs => rs.map(r => r.dataset.runId)"))


def test_runs_are_listed_filtered_and_a_run_is_retried(page: Any, dashboard: Dashboard) -> None:
    runs = seed_runs(dashboard.a)
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/runs"))
    assert _rows(page) == [runs["pending"].run_id, runs["completed"].run_id, runs["failed"].run_id]
    failed_row = page.locator(f'tr[data-run-id="{runs["failed"].run_id}"]')
    assert "bad rows in batch 7" in failed_row.inner_text()
    assert "1/2" in failed_row.inner_text()
    assert accessibility_violations(page) == []
    screenshot(page, "runs-1280")

    page.get_by_label("Status").select_option("FAILED")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*status=FAILED.*"))
    assert _rows(page) == [runs["failed"].run_id]
    page.goto(dashboard.ui("/runs?partition=11-30"))
    assert _rows(page) == [runs["completed"].run_id]
    page.goto(dashboard.ui(f"/runs?workflow={PAUSE}"))
    assert _rows(page) == [runs["pending"].run_id]
    page.goto(dashboard.ui("/runs?workflow=nothing.here"))
    assert "No runs match these filters." in page.locator("main").inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(dashboard.ui("/runs"))
    screenshot(page, "runs-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name=runs["failed"].run_id).click()
    page.wait_for_url(dashboard.ui(f"/runs/{runs['failed'].run_id}"))
    # extract: a failed attempt and its retry; load: one failed attempt.
    marks = page.locator("svg.chart-gantt .mark")
    assert marks.count() == 3
    titles = marks.evaluate_all("ms => ms.map(m => m.querySelector('title').textContent)")
    assert titles[0].startswith("extract, attempt 1 of 2: FAILED")
    assert titles[1].startswith("extract, attempt 2 of 2: COMPLETED")
    assert titles[2].startswith("load, attempt 1 of 1: FAILED")
    failures = page.locator("#failures").locator("xpath=..").inner_text()
    assert "the source timed out" in failures and "bad rows in batch 7" in failures
    assert '"fail": true' in page.locator("#params").inner_text()
    assert page.get_by_role("button", name="Cancel").count() == 0
    assert accessibility_violations(page) == []
    screenshot(page, "run-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "run-390")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(re.compile(r".*/ui/runs/(?!" + runs["failed"].run_id + ")[0-9A-Z]{26}$"))
    assert "a retry of" in page.locator(".flash").inner_text()
    retried = page.url.rsplit("/", 1)[1]
    again = dashboard.a.services.runs.run_row(retried)
    assert again.workflow_name == ETL
    assert again.params == {"fail": True}
    assert again.partition_key == "2026-11-29"
    assert again.status is WorkflowStatus.PENDING


def test_a_pending_run_is_cancelled_from_its_page(page: Any, dashboard: Dashboard) -> None:
    pending = dashboard.a.services.runner().submit(PAUSE)
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui(f"/runs/{pending.run_id.lower()}"))
    assert "spine worker" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Retry").count() == 0
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel").click()
    page.locator(".flash").wait_for()
    assert "cancelled" in page.locator(".flash").inner_text()
    assert dashboard.a.services.runs.run_row(pending.run_id).status is WorkflowStatus.CANCELLED
    assert page.get_by_role("button", name="Cancel").count() == 0


def test_a_read_key_sees_runs_but_cannot_act(page: Any, dashboard: Dashboard) -> None:
    runs = seed_runs(dashboard.a)
    log_in(page, dashboard, "read")
    for name in ("failed", "pending"):
        page.goto(dashboard.ui(f"/runs/{runs[name].run_id}"))
        assert page.get_by_role("heading", name=re.compile("Run")).first.is_visible()
        assert page.get_by_role("button", name="Cancel").count() == 0
        assert page.get_by_role("button", name="Retry").count() == 0
    csrf = page.locator("input[name=csrf_token]").first.input_value()
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    before = dashboard.a.services.runs.count_workflow_runs()
    with httpx.Client(base_url=dashboard.url, cookies=cookies) as client:
        retry = client.post(f"/ui/runs/{runs['failed'].run_id}/retry", data={"csrf_token": csrf})
        cancel = client.post(f"/ui/runs/{runs['pending'].run_id}/cancel", data={"csrf_token": csrf})
    assert retry.status_code == 403 and cancel.status_code == 403
    assert "write" in retry.text and "Traceback" not in retry.text
    assert dashboard.a.services.runs.count_workflow_runs() == before
    pending = dashboard.a.services.runs.run_row(runs["pending"].run_id)
    assert pending.status is WorkflowStatus.PENDING


def test_another_workspaces_run_is_not_found(page: Any, dashboard: Dashboard) -> None:
    theirs = dashboard.b.services.runner().submit(PAUSE)
    log_in(page, dashboard, "admin")
    response = page.goto(dashboard.ui(f"/runs/{theirs.run_id}"))
    assert response is not None and response.status == 404
    assert theirs.run_id in page.get_by_role("alert").inner_text()
    page.goto(dashboard.ui("/runs"))
    assert theirs.run_id not in page.locator("main").inner_text()
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    csrf = page.locator("input[name=csrf_token]").first.input_value()
    with httpx.Client(base_url=dashboard.url, cookies=cookies) as client:
        cancel = client.post(f"/ui/runs/{theirs.run_id}/cancel", data={"csrf_token": csrf})
    assert cancel.status_code == 404
    assert dashboard.b.services.runs.run_row(theirs.run_id).status is WorkflowStatus.PENDING


def test_no_runs_says_how_to_start_one(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/runs"))
    empty = page.locator(".empty").inner_text()
    assert "No runs yet" in empty and "spine run WORKFLOW" in empty
    assert accessibility_violations(page) == []
    response = page.goto(dashboard.ui("/runs?since=yesterday"))
    assert response is not None and response.status == 400
    assert "not a time" in page.get_by_role("alert").inner_text()


def test_older_pages_go_on_where_the_last_ended(page: Any, dashboard: Dashboard) -> None:
    runner = dashboard.a.services.runner()
    made = [runner.submit(PAUSE) for _ in range(53)]
    newest_first = [r.run_id for r in sorted(made, key=lambda r: (r.created_at, r.run_id))][::-1]
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui(f"/runs?workflow={PAUSE}&status=PENDING"))
    first = _rows(page)
    assert first == newest_first[:50]
    page.get_by_role("link", name="Older").click()
    page.wait_for_url(re.compile(r".*cursor=.*"))
    assert "status=PENDING" in page.url
    assert _rows(page) == newest_first[50:]
    assert page.get_by_role("link", name="Older").count() == 0
