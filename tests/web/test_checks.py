"""The checks pages in a real browser: the list with trends and pass rate by table, one
check's series with thresholds, band and samples, "Run now", scopes and workspaces."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from spine.quality.models import CheckDefinition, CheckResult, TargetType
from spine.quality.store import CheckRow
from spine.quality.store.dashboard import DayRate
from spine.web.pages.quality import _trend, _why, value_text
from tests.web.conftest import Dashboard, accessibility_violations, log_in, screenshot
from tests.web.quality_seed import HISTORY, make_orders, seed_checks


@pytest.fixture
def checks(dashboard: Dashboard, tmp_path: Path) -> dict[str, str]:
    """Workspace a's seeded checks, by name."""
    return seed_checks(dashboard.a.services, tmp_path)


def session_post(page: Any, dashboard: Dashboard, path: str, **data: str) -> httpx.Response:
    """POST ``path`` with the page's session cookie and its own CSRF token."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    headers = json.loads(page.locator("body").get_attribute("hx-headers"))
    with httpx.Client(base_url=dashboard.url, cookies=cookies) as client:
        return client.post(f"/ui{path}", data={"csrf_token": headers["X-CSRF-Token"], **data})


def test_the_list_shows_latest_results_trends_and_tables(
    page: Any, dashboard: Dashboard, checks: dict[str, str]
) -> None:
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/checks"))
    listing = page.locator("table#checks tbody tr")
    expect(listing).to_have_count(4)
    nulls = listing.filter(has_text="customer_nulls")
    expect(nulls).to_contain_text("failed")
    expect(nulls).to_contain_text("error")
    expect(nulls).to_contain_text("20")
    expect(listing.filter(has_text="orders_rows")).to_contain_text("passed")
    # One sparkline mark per day with results: ten days of history and today.
    volume = listing.filter(has_text="orders_volume")
    expect(volume.locator("svg.chart-sparkline .mark")).to_have_count(len(HISTORY) + 1)
    expect(nulls.locator("svg.chart-sparkline .mark")).to_have_count(1)
    screenshot(page, "checks")
    assert accessibility_violations(page) == []

    page.get_by_role("link", name="Pass rate by table").click()
    page.wait_for_url("**/ui/checks/tables")
    rates = page.locator("table#table-rates tbody tr")
    expect(rates).to_have_count(1)
    # 7 days: 6 history results of orders_volume and 4 now; 2 failed.
    expect(rates.first).to_contain_text("warehouse")
    expect(rates.first).to_contain_text("80.0 %")
    page.get_by_role("link", name="30 days").click()
    # 30 days: 10 history + 4 now; 2 failed.
    expect(rates.first).to_contain_text("85.7 %")
    rates.first.get_by_role("link", name="orders").click()
    page.wait_for_url("**/ui/checks?connection=warehouse&table=orders")
    expect(listing).to_have_count(4)
    assert accessibility_violations(page) == []

    page.goto(dashboard.ui("/checks"))
    page.get_by_label("Latest result").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/ui/checks?status=failed**")
    expect(listing).to_have_count(2)
    expect(page.locator("table#checks")).not_to_contain_text("orders_rows")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "checks-390")
    assert accessibility_violations(page) == []


def test_a_check_shows_its_series_and_runs_now(
    page: Any, dashboard: Dashboard, checks: dict[str, str]
) -> None:
    quality = dashboard.a.services.quality
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui(f"/checks/{checks['orders_volume']}"))
    expect(page.get_by_role("heading", name="Check orders_volume")).to_be_visible()
    chart = page.locator("svg.chart-series")
    expect(chart.locator(".mark")).to_have_count(len(HISTORY) + 1)
    expect(chart.locator("polygon.band")).to_have_count(1)
    expect(page.locator("table#results tbody tr")).to_have_count(len(HISTORY) + 1)
    screenshot(page, "check-anomaly")

    page.goto(dashboard.ui(f"/checks/{checks['customer_nulls']}"))
    chart = page.locator("svg.chart-series")
    expect(chart.locator(".mark.failed")).to_have_count(1)
    expect(chart.locator("line.threshold")).to_have_count(2)
    expect(page.locator("dl.facts")).to_contain_text("warning max 5; error max 10")
    expect(page.locator(".notice")).to_contain_text("Open incident: error, 1 failure since")
    before = len(quality.results(checks["customer_nulls"]))
    page.get_by_role("button", name="Run now").click()
    expect(page.locator("#flash")).to_contain_text("Ran customer_nulls: 20, failed (error).")
    expect(chart.locator(".mark")).to_have_count(2)
    assert len(quality.results(checks["customer_nulls"])) == before + 1
    assert accessibility_violations(page) == []

    page.goto(dashboard.ui(f"/checks/{checks['negative_amounts']}"))
    samples = page.locator("table#samples tbody tr")
    expect(samples).to_have_count(2)
    expect(samples.first).to_contain_text("-1")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "check-390")
    assert accessibility_violations(page) == []

    dashboard.a.services.sources.connections.update("warehouse", {"allow_samples": False})
    page.reload()
    expect(page.locator("table#samples")).to_have_count(0)
    expect(page.get_by_text("keeps no samples of failed rows")).to_be_visible()


def test_a_read_key_sees_checks_but_cannot_run_them(
    page: Any, dashboard: Dashboard, checks: dict[str, str]
) -> None:
    quality = dashboard.a.services.quality
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui(f"/checks/{checks['orders_rows']}"))
    expect(page.locator("svg.chart-series .mark")).to_have_count(1)
    expect(page.get_by_role("button", name="Run now")).to_have_count(0)
    refused = session_post(page, dashboard, f"/checks/{checks['orders_rows']}/run")
    assert refused.status_code == 403
    assert "write" in refused.text and "Traceback" not in refused.text
    assert len(quality.results(checks["orders_rows"])) == 1


def test_another_workspaces_check_is_not_found(
    page: Any, dashboard: Dashboard, checks: dict[str, str], tmp_path: Path
) -> None:
    theirs = seed_checks(dashboard.b.services, tmp_path / "b")
    log_in(page, dashboard, "write")
    response = page.goto(dashboard.ui(f"/checks/{theirs['orders_rows']}"))
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("unknown check")
    refused = session_post(page, dashboard, f"/checks/{theirs['orders_rows']}/run")
    assert refused.status_code == 404
    assert len(dashboard.b.services.quality.results(theirs["orders_rows"])) == 1
    # a's list shows a's checks only.
    page.goto(dashboard.ui("/checks"))
    expect(page.locator("table#checks tbody tr")).to_have_count(4)


def test_no_checks_yet_says_how_to_add_them(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/checks"))
    expect(page.get_by_text("No checks yet.")).to_be_visible()
    expect(page.locator(".empty code").first).to_contain_text("spine checks add NAME")
    expect(page.get_by_text("spine checks apply FILE")).to_be_visible()
    page.goto(dashboard.ui("/checks/tables"))
    expect(page.get_by_text("spine checks run --table TABLE")).to_be_visible()
    assert accessibility_violations(page) == []
    make_orders(tmp_path / "w.db")
    services = dashboard.a.services
    services.sources.connections.add("w", dialect="sqlite", database=str(tmp_path / "w.db"))
    fresh = services.quality.add_check(
        "fresh", connection="w", check_type="row_count", table="orders"
    )
    page.goto(dashboard.ui(f"/checks/{fresh.id}"))
    expect(page.get_by_text("This check has not run yet.")).to_be_visible()
    expect(page.locator(".empty code").first).to_have_text("spine checks run fresh")
    expect(page.locator("svg.chart-series")).to_have_count(0)
    assert accessibility_violations(page) == []


def test_values_trends_and_reasons_read_as_a_person_reads_them() -> None:
    """Pure helpers of the page, without a browser."""
    assert value_text(Decimal("5.0056")) == "5.0056"
    assert value_text(Decimal("1000000")) == "1,000,000"
    assert value_text(None) == "\u2014"
    now = datetime(2026, 12, 2, tzinfo=UTC)
    check = CheckDefinition(
        id=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        connection_id=uuid.uuid4(),
        connection_name="dw",
        name="rows",
        check_type="row_count",
        target_type=TargetType.TABLE,
        target_table="orders",
        created_at=now,
        updated_at=now,
    )
    days = [DayRate("2026-11-03", 2, 1), DayRate("2026-12-02", 4, 4), DayRate("2026-10-01", 1, 0)]
    trend = str(_trend(CheckRow(check=check, latest=None, days=days), date(2026, 12, 2)))
    # 30 slots ending today: the day before the window is not drawn.
    assert trend.count('class="mark"') == 2
    assert "2026-11-03 (1 of 2 passed): 0.5" in trend
    failed = CheckResult(
        id=1,
        check_id=check.id,
        executed_at=now,
        execution_time_ms=3,
        sensor_value=Decimal(60),
        rule_passed=False,
        details={
            "failed": [{"severity": "error", "key": "max", "limit": 50}],
            "anomaly": {"flagged": True},
        },
    )
    assert _why(failed) == "error max 50; outside the expected range"
