"""The alerts page in a browser: deliveries with their attempts, dead letters retried
and resolved, a breaker reset; scopes, workspaces, the empty state.

Deliveries go to real receivers on loopback: one answers 500 (its delivery is
dead-lettered and its channel's breaker opens at the first failure), one answers 200.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.alerting.conftest import WHSEC
from tests.alerting.receiver import Receiver
from tests.web.conftest import Dashboard, Workspace, accessibility_violations, log_in, screenshot
from tests.web.posting import post_as


@pytest.fixture(autouse=True)
def _alerting_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback receivers allowed, one attempt a delivery, breakers open at once."""
    monkeypatch.setenv("SPINE_ALERTING_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("SPINE_ALERTING_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("SPINE_ALERTING_BREAKER_THRESHOLD", "1")


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    failing, working = Receiver(status=500), Receiver()
    failing.start()
    working.start()
    yield failing, working
    failing.stop()
    working.stop()


def _channel(workspace: Workspace, name: str, receiver: Receiver) -> str:
    alerting = workspace.services.alerting()
    return alerting.add_channel(name, "webhook", {"url": receiver.url(), "secret": WHSEC}).id


def _alert_and_deliver(dashboard: Dashboard, workspace: Workspace, title: str) -> None:
    workspace.services.alerting().send("ERROR", title, "the disk is full", source="web-test")
    worker = dashboard.services.alerting().worker()
    try:
        worker.drain()
    finally:
        worker.close()


def _seed(dashboard: Dashboard, receivers: tuple[Receiver, Receiver]) -> dict[str, str]:
    failing, working = receivers
    made = {
        "ops": _channel(dashboard.a, "ops", failing),
        "team": _channel(dashboard.a, "team", working),
    }
    _alert_and_deliver(dashboard, dashboard.a, "disk full")
    return made


def _letter(workspace: Workspace) -> dict[str, Any]:
    [letter] = workspace.services.alerting().store.list_dead_letters()
    return letter


def _breaker(workspace: Workspace, channel: str) -> str:
    rows = workspace.services.alerting().store.list_breakers()
    return str(next(r["state"] for r in rows if r["channel_name"] == channel))


def test_deliveries_dead_letters_and_breakers_retry_resolve_and_reset(
    page: Any, dashboard: Dashboard, receivers: tuple[Receiver, Receiver]
) -> None:
    made = _seed(dashboard, receivers)
    letter = _letter(dashboard.a)
    assert letter["status"] == "pending" and _breaker(dashboard.a, "ops") == "open"
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/alerts"))
    ops = page.locator("table.channels tr[data-channel=ops]")
    expect(ops).to_contain_text("OPEN")
    expect(page.locator("table.channels tr[data-channel=team]")).to_contain_text("CLOSED")
    deliveries = page.locator("table.deliveries tbody tr")
    expect(deliveries).to_have_count(2)
    failed = deliveries.filter(has_text="ops")
    expect(failed).to_contain_text("FAILED")
    expect(failed).to_contain_text("500")
    expect(deliveries.filter(has_text="team")).to_contain_text("SENT")
    row = page.locator(f"table.dead-letters tr[data-dlq='{letter['dlq_id']}']")
    expect(row).to_contain_text("PENDING")
    screenshot(page, "alerts-1280")
    assert accessibility_violations(page) == []

    row.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("queued again")
    expect(page.get_by_role("status")).to_contain_text("breaker of ops is open")
    assert _letter(dashboard.a)["status"] == "retrying"
    retried = page.locator("table.deliveries tbody tr").filter(has_text="ops")
    expect(retried.locator("summary")).to_have_text("2")
    expect(retried).to_contain_text("PENDING")

    page.locator("table.channels tr[data-channel=ops]").get_by_role(
        "button", name="Reset breaker"
    ).click()
    expect(page.get_by_role("status")).to_contain_text("Breaker of ops closed")
    assert _breaker(dashboard.a, "ops") == "closed"
    expect(page.locator("table.channels tr[data-channel=ops]")).to_contain_text("CLOSED")

    row = page.locator(f"table.dead-letters tr[data-dlq='{letter['dlq_id']}']")
    row.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status")).to_contain_text("resolved")
    assert _letter(dashboard.a)["status"] == "resolved"
    expect(row.get_by_role("button")).to_have_count(0)

    page.get_by_role("combobox").select_option(label="team")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/ui/alerts?channel={made['team']}")
    expect(page.locator("table.deliveries tbody tr")).to_have_count(1)
    expect(page.locator("table.deliveries")).to_contain_text("SENT")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(dashboard.ui("/alerts"))
    screenshot(page, "alerts-390")
    assert accessibility_violations(page) == []


def test_a_read_key_sees_dead_letters_but_cannot_act(
    page: Any, dashboard: Dashboard, receivers: tuple[Receiver, Receiver]
) -> None:
    made = _seed(dashboard, receivers)
    letter = _letter(dashboard.a)
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/alerts"))
    expect(page.locator("table.dead-letters tbody tr")).to_have_count(1)
    expect(page.locator("main").get_by_role("button")).to_have_count(1)  # the filter's Show
    for path in (
        f"/alerts/dlq/{letter['dlq_id']}/retry",
        f"/alerts/dlq/{letter['dlq_id']}/resolve",
        f"/alerts/breakers/{made['ops']}/reset",
    ):
        refused = post_as(page, dashboard, path)
        assert refused.status_code == 403, path
    assert _letter(dashboard.a)["status"] == "pending"
    assert _breaker(dashboard.a, "ops") == "open"


def test_another_workspaces_alerting_is_not_seen_nor_touched(
    page: Any, dashboard: Dashboard, receivers: tuple[Receiver, Receiver]
) -> None:
    _channel(dashboard.a, "ours", receivers[1])
    theirs = _channel(dashboard.b, "theirs", receivers[0])
    _alert_and_deliver(dashboard, dashboard.b, "their disk")
    letter = _letter(dashboard.b)
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/alerts"))
    expect(page.locator("table.channels tr[data-channel=ours]")).to_be_visible()
    expect(page.get_by_text("theirs")).to_have_count(0)
    expect(page.get_by_text("their disk")).to_have_count(0)
    expect(page.locator("table.dead-letters")).to_have_count(0)
    response = page.goto(dashboard.ui(f"/alerts?channel={theirs}"))
    assert response is not None and response.status == 404
    for path in (
        f"/alerts/dlq/{letter['dlq_id']}/retry",
        f"/alerts/dlq/{letter['dlq_id']}/resolve",
        f"/alerts/breakers/{theirs}/reset",
    ):
        assert post_as(page, dashboard, path).status_code == 404, path
    assert _letter(dashboard.b)["status"] == "pending"
    assert _breaker(dashboard.b, "theirs") == "open"
    assert post_as(page, dashboard, "/alerts/dlq/not-an-id/retry").status_code == 404
    bad = page.goto(dashboard.ui("/alerts?dlq=yesterday"))
    assert bad is not None and bad.status == 400
    expect(page.get_by_role("alert")).to_contain_text("this page link is not valid")


def test_no_channels_says_how_to_add_one(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/alerts"))
    expect(page.get_by_text("No alert channels yet.")).to_be_visible()
    expect(page.locator(".empty code")).to_contain_text("spine alerts channels add ops --type")


def test_attempts_are_grouped_into_deliveries_in_order_of_their_newest() -> None:
    from spine.web.pages.alerts import group_deliveries

    def attempt(alert: str, channel: str, n: int, status: str, error: str | None) -> dict[str, Any]:
        return {
            "alert_id": alert,
            "channel_id": channel,
            "channel_name": channel,
            "alert_title": f"title {alert}",
            "alert_severity": "ERROR",
            "attempt": n,
            "status": status,
            "error": error,
            "attempted_at": None,
        }

    rows = [  # newest first
        attempt("a1", "ops", 3, "PENDING", None),
        attempt("a2", "ops", 1, "SENT", None),
        attempt("a1", "ops", 2, "FAILED", "HTTP 502"),
        attempt("a1", "team", 1, "SENT", None),
        attempt("a1", "ops", 1, "FAILED", "HTTP 500"),
    ]
    grouped = group_deliveries(rows)
    assert [(d.alert_id, d.channel_name, len(d.attempts)) for d in grouped] == [
        ("a1", "ops", 3),
        ("a2", "ops", 1),
        ("a1", "team", 1),
    ]
    assert grouped[0].latest["status"] == "PENDING"
    assert grouped[0].last_error == "HTTP 502"
    assert grouped[1].last_error is None
