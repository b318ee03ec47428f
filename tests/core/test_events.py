"""The event mechanism: listeners run in savepoints of the publishing transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from spine.core.events import Connection, Event, EventType, Publisher
from spine.core.storage import Database, sql_connection
from tests.event_recorder import Abort, Aborter, Broken, Recorder, create_seen_table, seen

AT = datetime(2025, 1, 10, tzinfo=UTC)


def _event(kind: EventType = EventType.RUN_FINISHED) -> Event:
    return Event(type=kind, subject_id="r1", payload={"status": "FAILED"}, at=AT)


def test_a_raising_listener_is_rolled_back_alone(db: Database) -> None:
    create_seen_table(db)
    publisher = Publisher([Broken(EventType.RUN_FINISHED), Recorder(EventType.RUN_FINISHED)])
    with db.write() as conn:
        publisher.publish(conn, _event())
    assert seen(db) == [("run.finished", "r1", "FAILED")]


def test_listener_writes_commit_or_roll_back_with_the_publisher(db: Database) -> None:
    create_seen_table(db)
    publisher = Publisher([Recorder(EventType.RUN_FINISHED), Aborter(EventType.RUN_FINISHED)])
    with pytest.raises(Abort), db.write() as conn:
        publisher.publish(conn, _event())
    assert seen(db) == []


def test_events_reach_only_listeners_of_their_type(db: Database) -> None:
    create_seen_table(db)
    publisher = Publisher([Recorder(EventType.ALERT_RECORDED)])
    assert not publisher.wanted(EventType.RUN_FINISHED)
    assert publisher.wanted(EventType.ALERT_RECORDED)
    with db.write() as conn:
        publisher.publish(conn, _event(EventType.RUN_FINISHED))
        publisher.publish(conn, _event(EventType.ALERT_RECORDED))
    assert seen(db) == [("alert.recorded", "r1", "FAILED")]


def test_an_event_payload_is_read_only() -> None:
    payload = {"status": "FAILED"}
    event = Event(type=EventType.RUN_FINISHED, subject_id="r1", payload=payload, at=AT)
    payload["status"] = "COMPLETED"
    assert event.payload["status"] == "FAILED"
    with pytest.raises(TypeError):
        event.payload["status"] = "X"  # type: ignore[index]


class _KillsItsConnection(Recorder):
    """Loses the database connection mid-transaction, as a network cut would."""

    def handle(self, conn: Connection, event: Event) -> None:
        sql_connection(conn).execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))


def test_a_lost_connection_in_a_listener_fails_the_whole_change(db: Database) -> None:
    # Logging it as the listener's failure would let the publisher go on to a commit
    # that can only fail, reported as something other than an outage.
    if db.is_sqlite:
        pytest.skip("a SQLite connection cannot be cut from the inside")
    create_seen_table(db)
    publisher = Publisher([_KillsItsConnection(EventType.RUN_FINISHED)])
    with pytest.raises(DBAPIError) as raised, db.write() as conn:
        publisher.publish(conn, _event())
    assert raised.value.connection_invalidated
