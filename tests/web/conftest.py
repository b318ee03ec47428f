"""The dashboard in a real headless Chromium, over a live server on a fresh SQLite file.

The browser is Debian's ``chromium`` driven by Playwright (``.ci/run`` installs it when
missing): in CI a missing browser fails these tests; elsewhere they are skipped with the
reason. Each test gets a fresh database (a copy of the migrated template), the API and
the dashboard served by uvicorn on a free loopback port, and two workspaces with keys
of every scope. Screenshots go to ``test-artifacts/screenshots/`` (``SPINE_TEST_ARTIFACTS``
moves it).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from spine.api import create_app
from spine.bootstrap import Services, build
from spine.config import Settings
from spine.tenancy import ALL_SCOPES, DEFAULT_WORKSPACE_ID, Actor, ApiScope
from spine.web import LoginToken, mount_dashboard
from tests.live_server import serving

CHROMIUM = Path(os.environ.get("SPINE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(
    os.environ.get("SPINE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)
_AXE = Path(__file__).parent / "assets" / "axe.min.js"
#: Key kinds every workspace gets: one per scope, and one holding all three.
KEY_KINDS: dict[str, frozenset[ApiScope]] = {
    "read": frozenset({ApiScope.READ}),
    "write": frozenset({ApiScope.READ, ApiScope.WRITE}),
    "admin": ALL_SCOPES,
}
LOGIN_TOKEN = "one-time-test-token"
_AXE_RUN = """async () => {
    const tags = ['wcag2a', 'wcag2aa'];
    const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
    return r.violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ': ' + v.help + ' ('
             + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ') + ')');
}"""


@dataclass
class Workspace:
    """A workspace of the live dashboard, its keys, and services acting in it (as the CLI)."""

    id: uuid.UUID
    keys: dict[str, str]
    key_ids: dict[str, str]
    services: Services


@dataclass
class Dashboard:
    """A live server with the dashboard, and what tests need around it."""

    url: str
    services: Services
    #: ``a`` is the default workspace (the one the one-time token opens); ``b`` another
    #: organization's, whose objects ``a``'s sessions must never see.
    a: Workspace
    b: Workspace
    extra: dict[str, Any] = field(default_factory=dict)

    def ui(self, path: str = "/") -> str:
        """The absolute URL of dashboard ``path`` (``/runs`` ...)."""
        return f"{self.url}/ui{path}"


def _browser_unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the browser tests need playwright (scripts/install installs it)"
    if not CHROMIUM.exists():
        return f"the browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium per test process."""
    missing = _browser_unavailable()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def _workspace(services: Services, workspace_id: uuid.UUID) -> Workspace:
    operator = Actor(workspace_id=workspace_id)
    keys: dict[str, str] = {}
    key_ids: dict[str, str] = {}
    for kind, scopes in KEY_KINDS.items():
        made = services.tenancy.create_key(operator, name=f"{kind} key", scopes=scopes)
        keys[kind] = made.secret
        key_ids[kind] = str(made.key.id)
    return Workspace(workspace_id, keys, key_ids, services.for_actor(operator))


@pytest.fixture
def dashboard(sqlite_template: Path, tmp_path: Path) -> Iterator[Dashboard]:
    """The API and the dashboard over a fresh migrated SQLite file, served on loopback."""
    path = tmp_path / "spine.db"
    shutil.copyfile(sqlite_template, path)
    services = build(
        Settings(database_url=f"sqlite:///{path}", secret_key_file=str(tmp_path / "k"))
    )
    try:
        services.tenancy.create_organization("globex")
        other = services.tenancy.create_workspace("data", "globex", Actor())
        a = _workspace(services, DEFAULT_WORKSPACE_ID)
        b = _workspace(services, other.id)
        app = create_app(services)
        mount_dashboard(app, services, login_token=LoginToken(LOGIN_TOKEN))
        with serving(app) as url:
            yield Dashboard(url=url, services=services, a=a, b=b)
    finally:
        services.close()


@pytest.fixture
def page(browser: Any, dashboard: Dashboard) -> Iterator[Any]:
    """A fresh browser page (1280 px wide), not logged in."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=dashboard.url)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def log_in(page: Any, dashboard: Dashboard, kind: str = "admin", workspace: str = "a") -> None:
    """Log ``page`` in with the ``kind`` key of workspace ``workspace``; land on the overview."""
    key = getattr(dashboard, workspace).keys[kind]
    page.goto(dashboard.ui("/login"))
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(dashboard.ui("/"))


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact; return its path."""
    target = ARTIFACTS / "screenshots" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    return target


def accessibility_violations(page: Any) -> list[str]:
    """The serious and critical WCAG 2 A/AA violations axe-core finds on ``page``."""
    page.add_script_tag(path=str(_AXE))
    result = page.evaluate(_AXE_RUN)
    return list(result)
