"""Posting as a browser page's session, outside the page: forged requests in tests.

The request carries the page's session cookie and its CSRF token, so what refuses it
is the session's scope (or the workspace), not the CSRF check.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.web.conftest import Dashboard


def post_as(page: Any, dashboard: Dashboard, path: str) -> httpx.Response:
    """POST to dashboard ``path`` with ``page``'s session and CSRF token (no redirects)."""
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=dashboard.url, cookies=cookies) as client:
        return client.post(dashboard.ui(path), data={"csrf_token": token})
