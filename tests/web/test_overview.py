"""The overview in a real browser: what fails now, what is late, what runs next, runs per day."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from spine.orchestration.registry import workflows
from spine.scheduling import new_schedule
from tests.web.conftest import Dashboard, Workspace, accessibility_violations, log_in, screenshot
from tests.web.run_workflows import ETL, registered, seed_runs


@pytest.fixture(autouse=True)
def _workflows() -> Iterator[None]:
    with registered():
        yield


def _missed_schedule(workspace: Workspace) -> None:
    """An hourly schedule whose fire, an hour late past a grace of 1 s, is recorded MISSED."""
    services = workspace.services
    schedule = new_schedule(
        "hourly_etl",
        workflow=ETL,
        now=services.clock.now() - timedelta(hours=2, minutes=30),
        registry=workflows,
        every=3600,
        misfire_grace_seconds=1,
        params={"fail": False},
    )
    services.schedules.add(schedule)
    services.scheduler().tick()


def _open_incident(workspace: Workspace, tmp_path: Path) -> None:
    """A check of a table with too many nulls, failed twice: an open ``error`` incident."""
    data = tmp_path / "warehouse.db"
    with sqlite3.connect(data) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER, customer_id TEXT)")
        conn.executemany("INSERT INTO orders VALUES (?, ?)", [(1, None), (2, "c2")])
    conn.close()
    services = workspace.services
    services.sources.connections.add("warehouse", dialect="sqlite", database=str(data))
    services.quality.add_check(
        "customer_nulls",
        connection="warehouse",
        check_type="null_percent",
        table="orders",
        column="customer_id",
        config={"max": 10},
    )
    services.quality.run_checks(["customer_nulls"])
    services.quality.run_checks(["customer_nulls"])


def test_the_overview_shows_what_fails_what_is_late_and_what_runs_next(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    runs = seed_runs(dashboard.a)
    seed_runs(dashboard.b)  # another workspace's failures are not counted
    _missed_schedule(dashboard.a)
    _open_incident(dashboard.a, tmp_path)
    log_in(page, dashboard, "read")

    failed = page.locator('[data-figure="failed-runs"]')
    assert failed.locator(".stat").inner_text() == "1"
    incidents = page.locator('[data-figure="open-incidents"]').inner_text()
    assert incidents.startswith("1\nopen incident: 1 error"), incidents
    assert page.locator('[data-figure="dead-letters"] .stat').inner_text() == "0"
    assert page.locator('[data-figure="open-breakers"] .stat').inner_text() == "0"
    late = page.locator('[data-figure="late-schedules"]').inner_text()
    assert late.startswith("1") and "hourly_etl" in late and "MISSED" in late
    next_fires = page.locator('[data-figure="next-fires"]').inner_text()
    assert "hourly_etl" in next_fires and ETL in next_fires
    # Today: COMPLETED, FAILED and PENDING segments (b's runs are not drawn).
    bars = page.locator("svg.chart-bars .mark")
    assert bars.count() == 3
    titles = bars.evaluate_all("ms => ms.map(m => m.querySelector('title').textContent)")
    assert sorted(t.split(": ", 1)[1] for t in titles) == ["1 COMPLETED", "1 FAILED", "1 PENDING"]
    assert (
        page.locator('[data-figure="failed-runs"]')
        .get_attribute("href")
        .startswith("/ui/runs?status=FAILED&since=")
    )
    assert page.get_by_role("button").filter(has_text=re.compile("Cancel|Retry")).count() == 0
    assert accessibility_violations(page) == []
    screenshot(page, "overview-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "overview-390")

    failed.click()
    page.wait_for_url(re.compile(r".*/ui/runs\?status=FAILED&since=.*"))
    listed = page.locator("table.runs tbody tr")
    assert listed.evaluate_all("rs => rs.map(r => r.dataset.runId)") == [runs["failed"].run_id]


def test_an_empty_workspace_says_what_to_do(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "read")
    text = page.locator("main").inner_text()
    assert "No runs in the last 14 days" in text and "spine run WORKFLOW" in text
    assert "No schedules yet" in text and "spine schedules add" in text
    assert page.locator('[data-figure="failed-runs"] .stat').inner_text() == "0"
    assert page.locator("svg.chart-bars").count() == 0
    assert accessibility_violations(page) == []
