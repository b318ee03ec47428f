"""Telling an outage from a mistake, backing off, logging once; session limits.

Real errors from real databases: a SQLite write lock held by another connection, a
PostgreSQL port nobody listens on, a database that does not exist.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from spine.core.storage import Database, EngineOptions, create_database
from spine.core.storage.outage import DatabaseWait, is_outage
from tests.conftest import require_postgres


def _locked_error(db_url: str) -> Exception:
    """What a write raises on SQLite while another connection holds the write lock."""
    database = create_database(db_url, EngineOptions(busy_timeout_ms=50))
    path = sa.make_url(db_url).database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        database.run_write(lambda conn: conn.execute(sa.text("SELECT 1")), attempts=2)
    except Exception as error:
        return error
    finally:
        holder.rollback()
        holder.close()
        database.dispose()
    raise AssertionError("the write went through a held lock")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_lock_held_past_the_busy_timeout_is_an_outage(db_url: str) -> None:
    error = _locked_error(db_url)
    assert "locked" in str(error)
    assert is_outage(error)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_write_lock_held_past_the_busy_timeout_is_waited_out(db_url: str) -> None:
    """BEGIN IMMEDIATE that times out is retried, not raised from the driver at once."""
    database = create_database(db_url, EngineOptions(busy_timeout_ms=100))
    path = sa.make_url(db_url).database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, holder.rollback)  # the lock lasts 0.5 s, 5 timeouts
    release.start()
    try:
        assert database.run_write(lambda conn: conn.execute(sa.text("SELECT 7")).scalar()) == 7
    finally:
        release.join()
        holder.close()
        database.dispose()


def test_an_unreachable_postgres_server_is_an_outage() -> None:
    url = sa.make_url(require_postgres()).set(host="127.0.0.1", port=_closed_port())
    database = create_database(url, EngineOptions(connect_timeout_seconds=2))
    with pytest.raises(Exception) as caught:
        database.run_read(lambda conn: conn.execute(sa.text("SELECT 1")), attempts=1)
    database.dispose()
    assert is_outage(caught.value)


def test_a_missing_postgres_database_is_not_an_outage() -> None:
    url = sa.make_url(require_postgres()).set(database="spine_test_does_not_exist")
    database = create_database(url)
    with pytest.raises(Exception) as caught:
        database.run_read(lambda conn: conn.execute(sa.text("SELECT 1")), attempts=1)
    database.dispose()
    assert not is_outage(caught.value)


def test_programming_errors_are_not_outages(db: Database) -> None:
    with pytest.raises(Exception) as caught:
        db.run_read(lambda conn: conn.execute(sa.text("SELECT no_such_column FROM core_x")))
    assert not is_outage(caught.value)
    assert not is_outage(ValueError("locked"))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_outage_and_its_end_are_logged_once(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    error = _locked_error(db_url)
    wait = DatabaseWait("tester", first_seconds=0.01, max_seconds=0.04)
    caplog.set_level(logging.INFO, logger="spine.core.storage.outage")
    delays = [wait.failed(error) for _ in range(6)]
    assert wait.down
    wait.succeeded()
    wait.succeeded()
    assert not wait.down
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "tester: the database is unavailable" in messages[0]
    assert "locked" in messages[0]
    assert "tester: the database is back after" in messages[1]
    assert delays[0] < delays[-1] <= 0.04  # exponential, capped
    assert wait.failed(error) <= 0.01  # a new outage starts from the first wait again


@pytest.mark.parametrize("backend", ["sqlite"])
def test_call_retries_through_an_outage_and_raises_anything_else(db_url: str) -> None:
    error = _locked_error(db_url)
    wait = DatabaseWait("tester", first_seconds=0.001, max_seconds=0.002)
    stop = threading.Event()
    failures = [error, error]

    def work() -> str:
        if failures:
            raise failures.pop()
        return "done"

    assert wait.call(work, stop) == "done"
    assert not wait.down

    def broken() -> str:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        wait.call(broken, stop)
    stop.set()
    assert wait.call(work, stop) is None  # stopped: nothing is run


def test_spine_sessions_on_postgres_have_lock_and_idle_timeouts(tmp_path: Path) -> None:
    url = require_postgres()
    database = create_database(
        url, EngineOptions(lock_timeout_ms=1500, idle_in_transaction_timeout_ms=4000)
    )
    try:
        with database.read() as conn:
            lock = conn.execute(sa.text("SHOW lock_timeout")).scalar()
            idle = conn.execute(sa.text("SHOW idle_in_transaction_session_timeout")).scalar()
    finally:
        database.dispose()
    assert (lock, idle) == ("1500ms", "4s")
    default = create_database(url)
    try:
        with default.read() as conn:
            assert conn.execute(sa.text("SHOW lock_timeout")).scalar() == "10s"
            idle = conn.execute(sa.text("SHOW idle_in_transaction_session_timeout")).scalar()
            assert idle == "1min"
    finally:
        default.dispose()
