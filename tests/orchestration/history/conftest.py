"""Spec 002's history API on a fresh database (SQLite and PostgreSQL), on a frozen clock."""

from __future__ import annotations

import pytest

from spine.core.clock import FrozenClock
from spine.core.storage import Database
from tests.orchestration.history.factories import History


@pytest.fixture
def history(db: Database, clock: FrozenClock) -> History:
    """A ``HistoryStore`` and ``HistoryTracker`` sharing the test's frozen clock."""
    return History(db, clock)
