"""The audit log page in a real browser: who changed what, newest first, filtered, paged."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from spine.tenancy import ApiScope
from tests.web.conftest import Dashboard, accessibility_violations, log_in, screenshot

READ = frozenset({ApiScope.READ})


def test_the_audit_log_names_who_and_what(page: Any, dashboard: Dashboard) -> None:
    a = dashboard.a.services
    for i in range(50):
        a.tenancy.create_key(a.actor, name=f"bulk {i}", scopes=READ)
    log_in(page, dashboard, "admin")
    read_id = dashboard.a.key_ids["read"]
    page.goto(dashboard.ui(f"/keys/{read_id}"))
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash")).to_be_visible()

    page.goto(dashboard.ui("/audit"))
    rows = page.locator("tr[data-entry]")
    expect(rows).to_have_count(50)
    newest = rows.first
    expect(newest).to_contain_text("update")
    expect(newest).to_contain_text("API key admin key")
    expect(newest).to_contain_text("revoked_at")
    expect(rows.nth(1)).to_contain_text("the CLI")
    expect(rows.nth(1)).to_contain_text("bulk 49")
    screenshot(page, "audit")
    assert accessibility_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "audit-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    for b_key in dashboard.b.key_ids.values():
        assert b_key not in page.content()

    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(4)
    expect(rows.last).to_contain_text("read key")
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)

    page.goto(dashboard.ui("/audit"))
    page.get_by_label("Action").select_option("update")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/ui/audit?*action=update*")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(read_id)

    page.get_by_label("Entity type").fill("schedule")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".empty")).to_contain_text("spine audit list --entity-type schedule")


def test_a_read_key_sees_the_log_and_an_empty_one_says_so(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "read", workspace="b")
    page.goto(dashboard.ui("/audit?entity_type=api_key"))
    expect(page.locator("tr[data-entry]")).to_have_count(3)
    page.goto(dashboard.ui("/audit?action=delete"))
    expect(page.locator(".empty")).to_contain_text("No change matches these filters.")
    response = page.goto(dashboard.ui("/audit?action=explode"))
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("unknown action")
