"""The API keys page in a real browser: list, create (secret shown once), revoke."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from spine.core.errors import InvalidInput
from spine.tenancy import ApiKey, ApiScope
from spine.web.pages.keys import key_cursor, key_state, parse_cursor
from tests.web.conftest import Dashboard, accessibility_violations, log_in, screenshot


def _forge(page: Any, dashboard: Dashboard, path: str, **data: Any) -> httpx.Response:
    """POST ``path`` with the page's session cookie and CSRF token, outside the browser."""
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=dashboard.url, cookies=cookies) as client:
        return client.post(f"/ui{path}", data={"csrf_token": token, **data})


def test_a_key_made_here_is_shown_once_and_logs_in(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "admin")
    page.goto(dashboard.ui("/keys"))
    expect(page.locator("tr[data-key]")).to_have_count(3)
    expect(page.locator(f'tr[data-key="{dashboard.a.key_ids["admin"]}"]')).to_contain_text(
        "this session"
    )
    screenshot(page, "keys")
    assert accessibility_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "keys-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_label("Name (what the key is for)").fill("nightly loader")
    page.get_by_label("write").check()
    page.get_by_label("Expires after (days, empty for never)").fill("30")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="API key nightly loader created")).to_be_visible()
    expect(page.locator(".notice")).to_contain_text("shown this once")
    secret = page.get_by_label("The key").input_value()
    assert secret.startswith("spk_")
    screenshot(page, "keys-created")
    assert accessibility_violations(page) == []

    (made,) = [
        k
        for k in dashboard.a.services.tenancy.keys(dashboard.a.services.actor)
        if k.name == "nightly loader"
    ]
    assert made.scopes == {ApiScope.READ, ApiScope.WRITE}
    assert made.expires_at is not None
    page.goto(dashboard.ui("/keys"))
    assert secret not in page.content()
    assert secret[len(made.key_prefix) :] not in page.content()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/ui/login**")
    page.get_by_label("API key").fill(secret)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(dashboard.ui("/"))
    page.goto(dashboard.ui("/keys"))
    expect(page.locator(f'tr[data-key="{made.id}"]')).to_contain_text("this session")
    expect(page.get_by_role("button", name="Create key")).to_have_count(0)


def test_revoking_a_key_ends_its_session(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "admin")
    page.goto(dashboard.ui("/keys"))
    page.on("dialog", lambda dialog: dialog.accept())
    write_id = dashboard.a.key_ids["write"]
    page.locator(f'tr[data-key="{write_id}"]').get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash")).to_have_text("Key write key is revoked.")
    expect(page.locator(f'tr[data-key="{write_id}"]')).to_contain_text("revoked")
    tenancy, actor = dashboard.a.services.tenancy, dashboard.a.services.actor
    assert tenancy.key(actor, write_id).revoked_at is not None

    admin_id = dashboard.a.key_ids["admin"]
    page.goto(dashboard.ui(f"/keys/{admin_id}"))
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_url("**/ui/login**")
    expect(page.get_by_text("expired or was revoked")).to_be_visible()
    assert tenancy.key(actor, admin_id).revoked_at is not None


def test_a_read_key_cannot_manage_keys_nor_reach_b(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/keys"))
    expect(page.locator("tr[data-key]")).to_have_count(3)
    expect(page.get_by_role("button", name="Revoke")).to_have_count(0)
    expect(page.get_by_role("button", name="Create key")).to_have_count(0)
    expect(page.get_by_text("needs a session with the admin scope")).to_be_visible()
    refused = _forge(page, dashboard, "/keys", name="sneaky", scopes="read")
    assert refused.status_code == 403 and "admin" in refused.text
    refused = _forge(page, dashboard, f"/keys/{dashboard.a.key_ids['write']}/revoke")
    assert refused.status_code == 403
    tenancy, actor = dashboard.a.services.tenancy, dashboard.a.services.actor
    assert len(tenancy.keys(actor)) == 3
    assert tenancy.key(actor, dashboard.a.key_ids["write"]).revoked_at is None

    b_key = dashboard.b.key_ids["admin"]
    response = page.goto(dashboard.ui(f"/keys/{b_key}"))
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("unknown API key")
    log_in(page, dashboard, "admin")
    page.goto(dashboard.ui("/keys"))
    assert _forge(page, dashboard, f"/keys/{b_key}/revoke").status_code == 404
    b = dashboard.b.services
    assert b.tenancy.key(b.actor, b_key).revoked_at is None


def test_a_bad_key_form_is_a_message(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "admin")
    page.goto(dashboard.ui("/keys"))
    response = _forge(page, dashboard, "/keys", name="x", expires_in_days="soon")
    assert response.status_code == 400 and "not a number" in response.text
    response = _forge(page, dashboard, "/keys", name="x")
    assert response.status_code == 400 and "at least one scope" in response.text
    assert len(dashboard.a.services.tenancy.keys(dashboard.a.services.actor)) == 3


def test_a_key_cursor_round_trips_and_a_bad_one_is_refused() -> None:
    at = datetime(2026, 12, 2, 12, tzinfo=UTC)
    key = ApiKey(
        id=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        name="k",
        key_prefix="spk_x",
        scopes=frozenset({ApiScope.READ}),
        last_used_at=None,
        expires_at=at,
        created_at=at,
    )
    assert parse_cursor(key_cursor(key)) == (at, key.id)
    assert key_state(key, at) == "expired"
    with pytest.raises(InvalidInput):
        parse_cursor("yesterday")
