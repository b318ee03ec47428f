"""A write is never applied twice because its COMMIT's reply was lost.

`Database.run_write` retries a transaction whole on transient errors. An error raised
*by* COMMIT after the connection was lost is ambiguous (the server may have committed):
it is retried only for work declared idempotent. Both backends are real; the lost reply
is made by committing on the driver and then raising the error a dropped connection
raises, and on PostgreSQL also by terminating the backend just before COMMIT.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import event, exc

from spine.core.errors import CommitOutcomeUnknown
from spine.core.storage import Database
from tests.core.storage.factories import commit_then_lose_reply

PROBE = sa.table("probe", sa.column("id", sa.Integer), sa.column("note", sa.String))


@pytest.fixture
def probe_db(db: Database) -> Iterator[Database]:
    with db.write() as conn:
        conn.execute(sa.text("CREATE TABLE probe (id INTEGER PRIMARY KEY, note VARCHAR(20))"))
    yield db


def _rows(db: Database) -> int:
    return int(
        db.run_read(lambda conn: conn.execute(sa.text("SELECT count(*) FROM probe")).scalar_one())
    )


def _commit_then_lose_reply(db: Database, times: int) -> None:
    """Make the next ``times`` COMMITs succeed on the server and then fail as if dropped."""
    left = [times]

    def on_commit(conn: sa.Connection) -> None:
        if left[0] == 0:
            return
        left[0] -= 1
        commit_then_lose_reply(db, conn)

    event.listen(db.engine, "commit", on_commit)


def test_a_write_whose_commit_reply_was_lost_runs_once_and_says_so(probe_db: Database) -> None:
    calls: list[int] = []

    def work(conn: sa.Connection) -> None:
        calls.append(1)
        conn.execute(sa.insert(PROBE).values(id=1, note="once"))

    _commit_then_lose_reply(probe_db, times=1)
    with pytest.raises(CommitOutcomeUnknown, match="lost while committing") as raised:
        probe_db.run_write(work)
    assert not raised.value.retryable
    assert len(calls) == 1
    assert _rows(probe_db) == 1


def test_an_idempotent_write_is_retried_after_a_lost_commit_reply(probe_db: Database) -> None:
    calls: list[int] = []

    def work(conn: sa.Connection) -> None:
        calls.append(1)
        exists = conn.execute(sa.text("SELECT count(*) FROM probe WHERE id = 7")).scalar_one()
        if not exists:
            conn.execute(sa.insert(PROBE).values(id=7, note="keyed"))

    _commit_then_lose_reply(probe_db, times=1)
    probe_db.run_write(work, idempotent=True)
    assert len(calls) == 2
    assert _rows(probe_db) == 1


def test_an_error_before_commit_is_retried_whole(probe_db: Database) -> None:
    calls: list[int] = []

    def work(conn: sa.Connection) -> None:
        calls.append(1)
        conn.execute(sa.insert(PROBE).values(id=1, note="retried"))
        if len(calls) == 1:
            orig = sqlite3.OperationalError("database is locked")
            raise exc.OperationalError("INSERT", None, orig)

    probe_db.run_write(work)
    assert len(calls) == 2
    assert _rows(probe_db) == 1


def test_a_commit_whose_backend_was_terminated_is_not_run_again(probe_db: Database) -> None:
    if probe_db.is_sqlite:
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    killer = sa.create_engine(probe_db.url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    calls: list[int] = []

    def work(conn: sa.Connection) -> None:
        calls.append(1)
        conn.execute(sa.insert(PROBE).values(id=len(calls), note="doomed"))
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with killer.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 30
            while other.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one():
                assert time.monotonic() < deadline, "the backend did not go away"
                time.sleep(0.01)

    try:
        with pytest.raises(CommitOutcomeUnknown):
            probe_db.run_write(work)
    finally:
        killer.dispose()
    assert len(calls) == 1
    # Terminated before its COMMIT arrived: this time the server applied nothing.
    assert _rows(probe_db) == 0
