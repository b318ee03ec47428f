"""The real API served by uvicorn on a free loopback port, queried over HTTP with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from spine.api import create_app
from spine.bootstrap import Services, build
from spine.config import Settings
from spine.core.clock import FrozenClock
from spine.core.errors import SpineError
from spine.core.storage import create_database
from spine.core.storage.migrator import Migrator
from spine.tenancy import ALL_SCOPES, OPERATOR
from spine.tenancy.keys import new_key
from tests.api.tenants import Tenants, make_tenant
from tests.live_server import serving
from tests.orchestration.history.factories import START, History


@dataclass
class LiveApi:
    """A running API, an HTTP client for it, and a history store on its database."""

    client: httpx.Client
    history: History
    services: Services


@contextmanager
def live_api(database_url: str) -> Iterator[LiveApi]:
    """Build the services for ``database_url`` and serve the API over them."""
    clock = FrozenClock(START)
    services = build(Settings(database_url=database_url), clock=clock)
    try:
        # The client carries a key of the default workspace holding every scope, as a
        # laptop user's own key would; tests of keys and tenants use their own. Without a
        # schema (or a server) to keep one in, it carries a well-formed key that the API
        # must look up, and fail to.
        try:
            key = services.tenancy.create_key(OPERATOR, name="tests", scopes=ALL_SCOPES).secret
        except (SpineError, DBAPIError):
            key = new_key()
        with (
            serving(create_app(services)) as url,
            httpx.Client(
                base_url=url, timeout=10, headers={"Authorization": f"Bearer {key}"}
            ) as client,
        ):
            yield LiveApi(client, History(services.database, clock), services)
    finally:
        services.close()


@pytest.fixture
def api(db_url: str) -> Iterator[LiveApi]:
    """The API over a fresh migrated database, on SQLite and on PostgreSQL."""
    with live_api(db_url) as live:
        yield live


@pytest.fixture
def offline_api(tmp_path: Path) -> Iterator[LiveApi]:
    """The API over a SQLite file of its own, for requests refused after authentication."""
    url = f"sqlite:///{tmp_path / 'spine.db'}"
    database = create_database(url)
    Migrator(database).upgrade()
    database.dispose()
    with live_api(url) as live:
        yield live


@pytest.fixture
def tenants(api: LiveApi) -> Tenants:
    """Organizations ``acme`` and ``globex``, each with a workspace ``data`` and a key of
    each scope (``read``, ``write``, ``admin``) and one with all three (``all``)."""
    return Tenants(
        a=make_tenant(api, "acme", "data"), b=make_tenant(api, "globex", "data"), live=api
    )
