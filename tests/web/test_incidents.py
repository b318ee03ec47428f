"""The incidents page in a real browser: open incidents by severity, acknowledge and
resolve them as ``spine incidents ack|resolve`` do, scopes and workspaces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from spine.quality.models import IncidentStatus
from tests.web.conftest import Dashboard, accessibility_violations, log_in, screenshot
from tests.web.quality_seed import seed_checks
from tests.web.test_checks import session_post


@pytest.fixture
def checks(dashboard: Dashboard, tmp_path: Path) -> dict[str, str]:
    """Workspace a's seeded checks (two failing: two open incidents), by name."""
    return seed_checks(dashboard.a.services, tmp_path)


def _incident_of(dashboard: Dashboard, check: str) -> Any:
    [incident] = dashboard.a.services.quality.list_incidents(check=check)
    return incident


def test_an_incident_is_acknowledged_then_resolved(
    page: Any, dashboard: Dashboard, checks: dict[str, str]
) -> None:
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/incidents"))
    rows = page.locator("table#open-incidents tbody tr")
    expect(rows).to_have_count(2)
    # Worst first: the fatal one above the error.
    expect(rows.nth(0)).to_contain_text("negative_amounts")
    expect(rows.nth(0)).to_contain_text("fatal")
    expect(rows.nth(1)).to_contain_text("customer_nulls")
    expect(page.get_by_text("None resolved yet.")).to_be_visible()
    screenshot(page, "incidents")
    assert accessibility_violations(page) == []

    nulls = rows.filter(has_text="customer_nulls")
    nulls.get_by_label("Acknowledged by").fill("ada")
    nulls.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#flash")).to_contain_text("Acknowledged the incident of customer_nulls")
    incident = _incident_of(dashboard, "customer_nulls")
    assert incident.status is IncidentStatus.ACKNOWLEDGED and incident.acknowledged_by == "ada"
    expect(nulls).to_contain_text("by ada")
    expect(nulls.get_by_role("button", name="Acknowledge")).to_have_count(0)

    nulls.get_by_label("Resolution notes").fill("re-loaded the customers")
    nulls.get_by_role("button", name="Resolve").click()
    expect(page.locator("#flash")).to_contain_text("Resolved the incident of customer_nulls")
    incident = _incident_of(dashboard, "customer_nulls")
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.resolution_notes == "re-loaded the customers"
    expect(rows).to_have_count(1)
    resolved = page.locator("table#resolved-incidents tbody tr")
    expect(resolved).to_have_count(1)
    expect(resolved.first).to_contain_text("re-loaded the customers")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "incidents-390")
    assert accessibility_violations(page) == []


def test_a_read_key_sees_incidents_but_cannot_act(
    page: Any, dashboard: Dashboard, checks: dict[str, str]
) -> None:
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/incidents"))
    expect(page.locator("table#open-incidents tbody tr")).to_have_count(2)
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(page.get_by_role("button", name="Resolve")).to_have_count(0)
    incident = _incident_of(dashboard, "customer_nulls")
    for action, data in (("acknowledge", {"by": "mallory"}), ("resolve", {"notes": "no"})):
        refused = session_post(page, dashboard, f"/incidents/{incident.id}/{action}", **data)
        assert refused.status_code == 403
        assert "Traceback" not in refused.text
    assert _incident_of(dashboard, "customer_nulls").status is IncidentStatus.OPEN


def test_another_workspaces_incident_is_not_found(
    page: Any, dashboard: Dashboard, checks: dict[str, str], tmp_path: Path
) -> None:
    seed_checks(dashboard.b.services, tmp_path / "b")
    [theirs, _] = dashboard.b.services.quality.list_incidents()
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/incidents"))
    expect(page.locator("table#open-incidents tbody tr")).to_have_count(2)
    refused = session_post(page, dashboard, f"/incidents/{theirs.id}/resolve", notes="x")
    assert refused.status_code == 404
    assert "unknown incident" in refused.text
    again = dashboard.b.services.quality.get_incident(str(theirs.id))
    assert again.status is IncidentStatus.OPEN


def test_no_incidents_says_what_to_look_at(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/incidents"))
    expect(page.get_by_text("No open incidents.")).to_be_visible()
    expect(page.get_by_text("spine quality summary")).to_be_visible()
    assert accessibility_violations(page) == []
