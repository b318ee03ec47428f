"""Fixtures for the quality service: spine's database (SQLite and PostgreSQL), a frozen
clock, and a user's SQLite database registered as a connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.clock import FrozenClock

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    """Time that moves only when the test advances it."""
    return FrozenClock(START)


def make_orders(path: Path, rows: int = 20, bad: int = 0) -> None:
    """(Re)write table ``orders`` in the SQLite file ``path``: ``bad`` negative amounts."""
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE IF EXISTS orders")
        conn.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL, email TEXT, created_at TEXT)"
        )
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [
                (
                    i,
                    -1.0 * i if i <= bad else float(i),
                    None if i % 5 == 0 else f"user{i}@example.com",
                    "2025-03-01T00:00:00",
                )
                for i in range(1, rows + 1)
            ],
        )


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A user's SQLite database with a table ``orders`` of 20 rows (4 null emails)."""
    path = tmp_path / "shop.db"
    make_orders(path)
    return path


@pytest.fixture
def make_services(
    db_url: str, clock: FrozenClock, tmp_path: Path
) -> Iterator[Callable[..., Services]]:
    """``make_services(**settings)``: services on the test database and the frozen clock."""
    made: list[Services] = []
    key = Fernet.generate_key().decode()

    def make(**overrides: Any) -> Services:
        settings = load_settings(
            database_url=db_url,
            secret_key=key,
            sources_cache_dir=str(tmp_path / "cache"),
            **overrides,
        )
        services = build(settings, clock=clock)
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


@pytest.fixture
def services(make_services: Callable[..., Services], target: Path) -> Services:
    """Services with the connection ``shop`` (the ``target`` SQLite file) registered."""
    made = make_services()
    made.sources.connections.add("shop", dialect="sqlite", database=str(target))
    return made
