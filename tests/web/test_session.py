"""Logging in and out of the dashboard, the one-time token, CSRF, and error pages."""

from __future__ import annotations

from typing import Any

import httpx

from tests.web.conftest import (
    LOGIN_TOKEN,
    Dashboard,
    accessibility_violations,
    log_in,
    screenshot,
)


def test_pages_need_a_login(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.ui("/?since=today"))
    assert "/ui/login" in page.url
    log_in_here = page.get_by_label("API key")
    log_in_here.fill(dashboard.a.keys["read"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(dashboard.ui("/?since=today"))


def test_an_api_key_logs_in_and_out(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "read")
    assert page.get_by_role("heading", name="Overview").is_visible()
    assert page.get_by_text("read only").is_visible()
    screenshot(page, "overview")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/ui/login**")
    page.goto(dashboard.ui("/"))
    assert "/ui/login" in page.url


def test_a_wrong_key_is_refused_with_a_message(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.ui("/login"))
    page.get_by_label("API key").fill("spk_not_a_key")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("that API key is not valid")


def test_the_one_time_token_logs_in_once(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.ui(f"/?token={LOGIN_TOKEN}"))
    page.wait_for_url(dashboard.ui("/"))
    assert page.get_by_role("heading", name="Overview").is_visible()
    with httpx.Client(base_url=dashboard.url) as client:
        again = client.get(f"/ui/?token={LOGIN_TOKEN}")
    assert again.status_code == 303
    assert "/ui/login" in again.headers["location"]


def test_a_revoked_key_ends_its_session(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "write")
    dashboard.a.services.tenancy.revoke_key(
        dashboard.a.services.actor, dashboard.a.key_ids["write"]
    )
    page.goto(dashboard.ui("/"))
    assert "/ui/login" in page.url
    assert page.get_by_text("expired or was revoked").is_visible()


def test_a_post_without_the_csrf_token_is_refused(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "admin")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=dashboard.url, cookies=cookies) as client:
        response = client.post("/ui/logout", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert "did not come from this dashboard" in response.text
    assert "Traceback" not in response.text


def test_an_unknown_page_is_a_page_not_a_trace(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    response = page.goto(dashboard.ui("/no/such/page"))
    assert response is not None and response.status == 404
    assert page.get_by_role("alert").inner_text() == "there is no such page"


def test_the_login_page_is_accessible(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.ui("/login"))
    assert accessibility_violations(page) == []
