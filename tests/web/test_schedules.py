"""The schedules pages in a browser: next fire times in two zones, fires with their
reasons, pause and resume, scopes, workspaces, the empty state."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from spine import Step, Workflow
from spine.orchestration.registry import workflows
from spine.scheduling import Schedule, new_schedule
from tests.web.conftest import Dashboard, Workspace, accessibility_violations, log_in, screenshot
from tests.web.posting import post_as

WF = "web_schedules.demo"
if WF not in workflows.names():
    Workflow(WF, [Step.lambda_("a", lambda ctx: {"ok": True})])


def _add(workspace: Workspace, name: str, **trigger: Any) -> Schedule:
    services = workspace.services
    schedule = new_schedule(
        name, workflow=WF, now=services.clock.now(), registry=workflows, **trigger
    )
    return services.schedules.add(schedule)


def _due(workspace: Workspace, schedule: Schedule, ago: timedelta) -> None:
    """Make ``schedule`` due ``ago`` in the past, as if the scheduler had been away."""
    now = workspace.services.clock.now()
    workspace.services.schedules.update(
        schedule.id, lambda old: replace(old, next_run_at=now - ago)
    )


def _seed(dashboard: Dashboard) -> dict[str, Schedule]:
    """nightly (New York, never fired); busy (fired, then SKIPPED); graced (MISSED)."""
    a = dashboard.a
    made = {
        "nightly": _add(a, "nightly", cron="0 2 * * *", timezone="America/New_York"),
        "busy": _add(a, "busy", every=3600, max_instances=1),
        "graced": _add(a, "graced", every=3600, misfire_grace_seconds=1),
    }
    scheduler = dashboard.services.scheduler()
    _due(a, made["busy"], timedelta(minutes=2))
    _due(a, made["graced"], timedelta(minutes=10))
    scheduler.tick()
    _due(a, made["busy"], timedelta(minutes=1))
    scheduler.tick()
    return made


def test_schedules_show_next_fires_and_reasons_and_pause_then_resume(
    page: Any, dashboard: Dashboard
) -> None:
    made = _seed(dashboard)
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/schedules"))
    nightly = page.get_by_role("region", name="nightly")
    expect(nightly.locator("ol.upcoming li")).to_have_count(3)
    expect(nightly.locator("ol.upcoming li").first).to_contain_text("America/New_York")
    expect(nightly.locator("ol.upcoming li").first).to_contain_text("02:00 E")
    busy = page.get_by_role("region", name="busy")
    expect(busy.locator("table.fires tbody tr")).to_have_count(2)
    expect(busy.get_by_text("SKIPPED")).to_be_visible()
    expect(busy.get_by_text("still active (max_instances 1)")).to_be_visible()
    graced = page.get_by_role("region", name="graced")
    expect(graced.get_by_text("MISSED")).to_be_visible()
    expect(graced.get_by_text("misfire grace is 1 s")).to_be_visible()
    screenshot(page, "schedules-1280")
    assert accessibility_violations(page) == []

    nightly.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_contain_text("Schedule nightly paused.")
    stored = dashboard.a.services.schedules.get("nightly")
    assert (stored.enabled, stored.next_run_at) == (False, None)
    nightly = page.get_by_role("region", name="nightly")
    expect(nightly.get_by_text("Paused: it does not fire until resumed.")).to_be_visible()
    nightly.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("status")).to_contain_text("Schedule nightly resumed.")
    stored = dashboard.a.services.schedules.get("nightly")
    assert stored.enabled and stored.next_run_at is not None
    assert stored.next_run_at > dashboard.services.clock.now()

    page.get_by_role("link", name="busy").click()
    page.wait_for_url(dashboard.ui(f"/schedules/{made['busy'].id}"))
    expect(page.locator("table.fires tbody tr")).to_have_count(2)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(dashboard.ui("/schedules"))
    screenshot(page, "schedules-390")
    assert accessibility_violations(page) == []


def test_a_read_key_sees_schedules_but_cannot_pause_them(page: Any, dashboard: Dashboard) -> None:
    made = _add(dashboard.a, "nightly", cron="0 2 * * *")
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/schedules"))
    expect(page.get_by_role("region", name="nightly")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    refused = post_as(page, dashboard, f"/schedules/{made.id}/pause")
    assert refused.status_code == 403
    assert "write" in refused.text and "Traceback" not in refused.text
    assert dashboard.a.services.schedules.get("nightly").enabled


def test_another_workspaces_schedules_are_not_seen_nor_paused(
    page: Any, dashboard: Dashboard
) -> None:
    _add(dashboard.a, "ours", cron="0 2 * * *")
    theirs = _add(dashboard.b, "theirs", cron="0 3 * * *")
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/schedules"))
    expect(page.get_by_role("region", name="ours")).to_be_visible()
    expect(page.get_by_text("theirs")).to_have_count(0)
    response = page.goto(dashboard.ui(f"/schedules/{theirs.id}"))
    assert response is not None and response.status == 404
    refused = post_as(page, dashboard, f"/schedules/{theirs.id}/pause")
    assert refused.status_code == 404
    assert dashboard.b.services.schedules.get("theirs").enabled
    missing = page.goto(dashboard.ui("/schedules/no-such-schedule"))
    assert missing is not None and missing.status == 404


def test_no_schedules_says_how_to_add_one(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/schedules"))
    expect(page.get_by_text("No schedules yet.")).to_be_visible()
    expect(page.locator(".empty code")).to_contain_text("spine schedules add nightly --workflow")


def test_next_fires_are_told_on_the_schedules_wall_clock() -> None:
    from datetime import UTC, datetime

    from spine.web.pages.schedules import next_fires

    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    schedule = new_schedule(
        "n", workflow=WF, now=now, registry=workflows, cron="0 2 * * *", timezone="Europe/Paris"
    )
    times = next_fires(schedule)
    assert [t.local for t in times] == [
        "2026-07-02 02:00 CEST",
        "2026-07-03 02:00 CEST",
        "2026-07-04 02:00 CEST",
    ]
    assert times[0].at == datetime(2026, 7, 2, 0, 0, tzinfo=UTC)
    assert next_fires(replace(schedule, enabled=False)) == []


def test_schedules_and_fires_come_in_keyset_pages(
    page: Any, dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spine.web.pages import schedules as pages

    monkeypatch.setattr(pages, "PAGE", 2)
    monkeypatch.setattr(pages, "FIRES_PAGE", 1)
    made = _seed(dashboard)
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/schedules"))
    expect(page.locator("section.schedule")).to_have_count(2)
    page.get_by_role("link", name="More schedules").click()
    expect(page.locator("section.schedule")).to_have_count(1)
    expect(page.get_by_role("region", name="graced")).to_be_visible()
    page.goto(dashboard.ui(f"/schedules/{made['busy'].id}"))
    expect(page.locator("table.fires tbody tr")).to_contain_text("SKIPPED")
    page.get_by_role("link", name="Older").click()
    expect(page.locator("table.fires tbody tr")).to_contain_text("RUNNING")
    expect(page.get_by_role("link", name="Older")).to_have_count(0)
