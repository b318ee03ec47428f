"""The sources pages in a browser: each source's fetch history (hash, size, status,
changed or not) and its chart; fetch now; scopes, workspaces, the empty state.

A file source on a temporary file is fetched twice unchanged and once changed, as
``spine sources fetch`` would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from spine.sources.models import Source
from tests.web.conftest import Dashboard, Workspace, accessibility_violations, log_in, screenshot
from tests.web.posting import post_as


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Fetched content may spill to the cache directory, relative to the working directory.
    monkeypatch.chdir(tmp_path)


def _source(workspace: Workspace, tmp_path: Path, name: str) -> tuple[Source, Path]:
    data = tmp_path / f"{name}.psv"
    data.write_text("a|b\n1|2\n3|4\n")
    return workspace.services.sources.add(name, "file", {"path": str(data)}), data


def _fetched_three_times(workspace: Workspace, tmp_path: Path, name: str) -> Source:
    """SUCCESS, UNCHANGED, then SUCCESS again after the file grew."""
    source, data = _source(workspace, tmp_path, name)
    sources = workspace.services.sources
    statuses = [sources.fetch(name).status.value, sources.fetch(name).status.value]
    data.write_text("a|b\n1|2\n3|4\n5|6\n7|8\n")
    statuses.append(sources.fetch(name).status.value)
    assert statuses == ["SUCCESS", "UNCHANGED", "SUCCESS"]
    return source


def test_fetch_history_with_hashes_sizes_and_chart_then_fetch_now(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    source = _fetched_three_times(dashboard.a, tmp_path, "otc")
    _source(dashboard.a, tmp_path, "idle")
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/sources"))
    otc = page.get_by_role("region", name="otc", exact=True)
    marks = otc.locator("svg.chart-timeline .mark")
    expect(marks).to_have_count(3)
    # Oldest on the left: new content, the same again, new content.
    assert [m.get_attribute("data-status") for m in marks.all()] == [
        "SUCCESS",
        "UNCHANGED",
        "SUCCESS",
    ]
    heights = [float(m.get_attribute("height") or 0) for m in marks.all()]
    assert heights[0] == heights[1] < heights[2]  # the file grew
    rows = otc.locator("table.fetches tbody tr")
    expect(rows).to_have_count(3)
    fetches = dashboard.a.services.sources.fetches("otc")
    newest = fetches[0]
    expect(rows.first).to_contain_text(newest["content_hash"][:12])
    expect(rows.first).to_contain_text("changed")
    expect(rows.nth(1)).to_contain_text("UNCHANGED")
    expect(rows.nth(1)).to_contain_text(f"{fetches[1]['byte_count']} B")
    idle = page.get_by_role("region", name="idle", exact=True)
    expect(idle.get_by_text("spine sources fetch idle")).to_be_visible()
    screenshot(page, "sources-1280")
    assert accessibility_violations(page) == []

    otc.get_by_role("link", name="otc").click()
    page.wait_for_url(dashboard.ui(f"/sources/{source.id}"))
    page.get_by_role("button", name="Fetch now").click()
    expect(page.get_by_role("status")).to_contain_text("Fetched otc: UNCHANGED.")
    assert [f["status"] for f in dashboard.a.services.sources.fetches("otc")] == [
        "UNCHANGED",
        "SUCCESS",
        "UNCHANGED",
        "SUCCESS",
    ]
    expect(page.locator("svg.chart-timeline .mark")).to_have_count(4)
    expect(page.locator("table.fetches tbody tr")).to_have_count(4)
    assert accessibility_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(dashboard.ui("/sources"))
    screenshot(page, "sources-390")
    assert accessibility_violations(page) == []


def test_a_read_key_sees_fetches_but_cannot_fetch(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    source = _fetched_three_times(dashboard.a, tmp_path, "otc")
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui(f"/sources/{source.id}"))
    expect(page.locator("svg.chart-timeline .mark")).to_have_count(3)
    expect(page.get_by_role("button", name="Fetch now")).to_have_count(0)
    refused = post_as(page, dashboard, f"/sources/{source.id}/fetch")
    assert refused.status_code == 403
    assert len(dashboard.a.services.sources.fetches("otc")) == 3


def test_another_workspaces_sources_are_not_seen_nor_fetched(
    page: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    _source(dashboard.a, tmp_path, "ours")
    theirs = _fetched_three_times(dashboard.b, tmp_path, "theirs")
    log_in(page, dashboard, "write")
    page.goto(dashboard.ui("/sources"))
    expect(page.get_by_role("region", name="ours")).to_be_visible()
    expect(page.get_by_text("theirs")).to_have_count(0)
    response = page.goto(dashboard.ui(f"/sources/{theirs.id}"))
    assert response is not None and response.status == 404
    assert post_as(page, dashboard, f"/sources/{theirs.id}/fetch").status_code == 404
    assert len(dashboard.b.services.sources.fetches("theirs")) == 3
    missing = page.goto(dashboard.ui("/sources/not-an-id"))
    assert missing is not None and missing.status == 404


def test_no_sources_says_how_to_add_one(page: Any, dashboard: Dashboard) -> None:
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/sources"))
    expect(page.get_by_text("No sources yet.")).to_be_visible()
    expect(page.locator(".empty code")).to_contain_text("spine sources add otc --type file")


def test_sources_and_fetches_come_in_keyset_pages(
    page: Any, dashboard: Dashboard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spine.web.pages import sources as pages

    monkeypatch.setattr(pages, "PAGE", 1)
    monkeypatch.setattr(pages, "FETCHES_PAGE", 2)
    source = _fetched_three_times(dashboard.a, tmp_path, "b-otc")
    _source(dashboard.a, tmp_path, "a-idle")
    log_in(page, dashboard, "read")
    page.goto(dashboard.ui("/sources"))
    expect(page.get_by_role("region", name="a-idle")).to_be_visible()
    page.get_by_role("link", name="More sources").click()
    expect(page.get_by_role("region", name="b-otc")).to_be_visible()
    page.goto(dashboard.ui(f"/sources/{source.id}"))
    expect(page.locator("table.fetches tbody tr")).to_have_count(2)
    page.get_by_role("link", name="Older").click()
    expect(page.locator("table.fetches tbody tr")).to_have_count(1)
    expect(page.locator("svg.chart-timeline .mark")).to_have_count(1)
