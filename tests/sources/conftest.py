"""Fixtures for sources: a service on a fresh database, a frozen clock, a cache directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from spine.config import load_settings
from spine.core.clock import FrozenClock
from spine.core.events import Listener
from spine.core.storage import Database
from spine.sources import SourceService

START = datetime(2025, 1, 13, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    """Time that moves only when a retry back-off sleeps or the test advances it."""
    return FrozenClock(START)


@pytest.fixture
def make_service(
    db: Database, clock: FrozenClock, tmp_path: Path
) -> Iterator[Callable[..., SourceService]]:
    """``make_service(listeners=(), **settings)``: a service on the test database;
    loopback allowed.

    The pools of the connections the services opened are closed after the test.
    """
    made: list[SourceService] = []

    def make(*, listeners: Sequence[Listener] = (), **overrides: Any) -> SourceService:
        options: dict[str, Any] = {
            "sources_allow_private_urls": True,
            "sources_cache_dir": str(tmp_path / "cache"),
            # The key that seals spec 004 connection configs: beside the test, not in cwd.
            "secret_key_file": str(tmp_path / "secret.key"),
            **overrides,
        }
        service = SourceService.build(load_settings(**options), db, clock, listeners=listeners)
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


@pytest.fixture
def sources(make_service: Callable[..., SourceService]) -> SourceService:
    """The sources service with default limits."""
    return make_service()


def sqlite_only() -> str:
    """For fetcher tests whose database work is covered on both backends elsewhere."""
    return "sqlite"
