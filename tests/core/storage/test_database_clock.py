"""The database's clock: what every process sharing a database decides time with.

Each test gives the clock a host clock that is wrong (:class:`tests.clocks.SkewedClock`)
and shows that what it says is the database's time nonetheless; on SQLite that is the
real clock of this host, on PostgreSQL the server's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from spine.core.storage import Database, create_database
from spine.core.storage.clock import DatabaseClock
from tests.cli.tcp_proxy import TcpProxy
from tests.clocks import SkewedClock, database_time
from tests.conftest import require_postgres

HOUR = timedelta(hours=1)
# Two readings of one clock a few statements apart, on a busy machine.
CLOSE = timedelta(seconds=5)


def assert_close(a: datetime, b: datetime) -> None:
    assert abs(a - b) < CLOSE, f"{a} and {b} differ by {a - b}"


@pytest.mark.parametrize("skew", [HOUR, -HOUR, timedelta(seconds=90)])
def test_it_tells_the_databases_time_whatever_the_hosts_clock_says(
    db: Database, skew: timedelta
) -> None:
    host = SkewedClock(skew)
    clock = DatabaseClock(db, host=host)

    now = clock.now()

    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert_close(now, database_time(db))
    assert abs(host.now() - now) > skew / 2  # the host's clock is not where it came from


def test_a_jump_of_the_hosts_wall_clock_changes_nothing(db: Database) -> None:
    host = SkewedClock()
    clock = DatabaseClock(db, host=host)
    clock.now()

    host.offset = HOUR  # the host's clock jumps an hour ahead, then an hour back
    ahead = clock.now()
    host.offset = -HOUR
    behind = clock.now()

    assert ahead <= behind
    assert_close(behind, database_time(db))


def test_between_readings_time_runs_on_the_hosts_monotonic_clock_then_resyncs(
    db: Database,
) -> None:
    host = SkewedClock(HOUR)
    clock = DatabaseClock(db, host=host, resync_seconds=60)
    clock.now()

    # The monotonic clock says 30 s went by: no new reading yet, so 30 s are added.
    host.monotonic_offset = 30.0
    assert_close(clock.now(), database_time(db) + timedelta(seconds=30))

    # Past the resync interval the database is read again, and the clock is right.
    host.monotonic_offset = 61.0
    assert_close(clock.now(), database_time(db))
    host.monotonic_offset = 70.0
    assert_close(clock.now(), database_time(db) + timedelta(seconds=9))


def test_many_threads_reading_at_once_all_get_the_databases_time(db: Database) -> None:
    clock = DatabaseClock(db, host=SkewedClock(HOUR))
    readings: list[datetime] = []
    lock = threading.Lock()

    def read() -> None:
        for _ in range(50):
            value = clock.now()
            with lock:
                readings.append(value)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    reference = database_time(db)
    assert len(readings) == 400
    assert all(abs(r - reference) < CLOSE for r in readings)


def test_on_sqlite_the_time_does_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    db = create_database(f"sqlite:///{tmp_path}/locked.db", None)
    host = SkewedClock(HOUR)
    clock = DatabaseClock(db, host=host)
    try:
        with db.write() as conn:  # the write lock, held by another connection
            conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            now = clock.now()
        assert_close(now, datetime.now(UTC))
        assert clock.synced
    finally:
        db.dispose()


@pytest.fixture
def proxied() -> Iterator[tuple[Database, TcpProxy]]:
    """Spine's database on PostgreSQL reached through a proxy the test can cut."""
    url = sa.make_url(require_postgres())
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.restore()
    db = create_database(proxy.url(url.render_as_string(hide_password=False)))
    yield db, proxy
    proxy.cut()
    db.dispose()


def test_a_failed_resync_keeps_the_last_reading_and_logs_once(
    proxied: tuple[Database, TcpProxy], caplog: pytest.LogCaptureFixture
) -> None:
    db, proxy = proxied
    host = SkewedClock(HOUR)
    clock = DatabaseClock(db, host=host, retry_seconds=0.0)
    before = clock.now()
    assert clock.synced

    proxy.cut()
    caplog.set_level(logging.INFO, logger="spine.core.storage.clock")
    readings = []
    for _ in range(3):
        clock.resync()
        readings.append(clock.now())  # does not raise

    assert readings == sorted(readings) and readings[0] >= before
    assert_close(readings[-1], datetime.now(UTC))  # still the database's, not the host's
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "keeping the last reading" in warnings[0].getMessage()

    proxy.restore()
    clock.resync()
    assert_close(clock.now(), datetime.now(UTC))
    assert any("again" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


def test_before_the_database_answers_the_hosts_clock_stands_in(
    proxied: tuple[Database, TcpProxy],
) -> None:
    db, proxy = proxied
    host = SkewedClock(HOUR)
    proxy.cut()
    clock = DatabaseClock(db, host=host, retry_seconds=0.0)

    assert_close(clock.now(), host.now())  # no exception: the host's clock, for now
    assert not clock.synced

    proxy.restore()
    assert_close(clock.now(), datetime.now(UTC))
    assert clock.synced
