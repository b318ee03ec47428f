"""A listener that records the events it is handed in a table, on the change's own
connection, and one that aborts the change: to show that an event's row exists if and
only if the change it reports committed."""

from __future__ import annotations

import sqlalchemy as sa

from spine.core.events import Connection, Event, EventType
from spine.core.storage import Database, sql_connection

seen_t = sa.Table(
    "test_events_seen",
    sa.MetaData(),
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20)),
)


class Abort(BaseException):
    """Not an ``Exception``: escapes the savepoint guard and rolls the change back."""


class Recorder:
    """Inserts a row per event of ``kind`` on the publishing transaction."""

    def __init__(self, kind: EventType) -> None:
        self.event_types = frozenset({kind})

    def wants(self, event: Event) -> bool:
        return True

    def handle(self, conn: Connection, event: Event) -> None:
        status = event.payload.get("status")
        sql_connection(conn).execute(
            sa.insert(seen_t).values(
                type=event.type.value, subject_id=event.subject_id, status=status
            )
        )


class Aborter(Recorder):
    """Aborts the transaction that publishes (after the recorder before it wrote)."""

    def handle(self, conn: Connection, event: Event) -> None:
        raise Abort(event.type.value)


class Broken(Recorder):
    """Fails like a buggy listener: with an ordinary exception, after writing."""

    def handle(self, conn: Connection, event: Event) -> None:
        super().handle(conn, event)
        raise RuntimeError("listener bug")


def create_seen_table(db: Database) -> None:
    """Create the table the recorder writes to."""
    with db.write() as conn:
        seen_t.create(conn)


def seen(db: Database) -> list[tuple[str, str, str | None]]:
    """The recorded events: (type, subject id, status), in order."""
    with db.read() as conn:
        rows = conn.execute(sa.select(seen_t).order_by(seen_t.c.n))
        return [(r.type, r.subject_id, r.status) for r in rows]
