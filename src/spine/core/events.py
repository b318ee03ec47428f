"""One event mechanism: how one part reacts to another's change in the same transaction.

A part *publishes* an :class:`Event` inside the transaction that makes a change (a run
finishes, a fire is recorded, a fetch brings new content, an alert is recorded). The
*listeners* that :mod:`spine.bootstrap` handed to the part's store are called right
there, on the same connection, so what they write commits or rolls back with the change
(an outbox: a crash can never record a FAILED run without its alert). Each listener runs
in its own savepoint: one that raises is logged and rolled back alone, and the change
still commits.

The adapter that makes part B react to part A lives in B (``alerting`` reacting to a
finished run is ``alerting/listener.py``) and reads only the event's payload, so that
parts on one layer never import each other.

Core does not import SQLAlchemy outside ``core/storage``: a listener is handed the
change's connection typed as :class:`Connection`, the one method dispatch needs. A
listener's part turns it back into its SQL connection in its own store
(:func:`spine.core.storage.sql_connection`).

Adding an event type is one line in :class:`EventType` (and one row in the table of
``docs/orchestration.md``, "Events between parts").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

log = logging.getLogger(__name__)


class EventType(StrEnum):
    """The changes parts publish; subjects and payloads: ``docs/orchestration.md``."""

    RUN_FINISHED = "run.finished"
    SCHEDULE_FIRE = "schedule.fire"
    SOURCE_CHANGED = "source.changed"
    ALERT_RECORDED = "alert.recorded"
    #: A check's result, published in the transaction that records it (subject: the
    #: check id; payload: ``docs/quality.md``). Alerting delivers ``check.failed`` to
    #: the webhooks that ask for it.
    CHECK_RESULT = "check.result"
    #: An incident opened, reopened, was acknowledged or resolved (subject: the
    #: incident id; payload ``event``: a :class:`spine.quality.models.QualityEvent`).
    INCIDENT_CHANGED = "incident.changed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One change, as its part publishes it.

    Attributes:
        type: What happened.
        subject_id: The id of what changed (a run id, a schedule id, a source id ...).
        payload: JSON-able facts about the change (read-only); the table of event
            types says which keys each type carries.
        at: When the change was made (aware UTC).
        workspace_id: The workspace of the change, when there is one (``None`` until
            the parts record workspaces).
    """

    type: EventType
    subject_id: str
    payload: Mapping[str, Any]
    at: datetime
    workspace_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", MappingProxyType(dict(self.payload)))


class Connection(Protocol):
    """The connection of the transaction that makes the change.

    Dispatch needs only savepoints; a listener hands the connection to its own part's
    store functions, which take it as this type and narrow it to their SQL connection.
    """

    def begin_nested(self) -> AbstractContextManager[Any]:
        """Open a savepoint, released on success and rolled back on an exception."""
        ...


class Listener(Protocol):
    """Reacts to events, inside the transaction that publishes them.

    Attributes:
        event_types: The types it reacts to; a store builds an event's payload only when
            some listener names its type here.
    """

    @property
    def event_types(self) -> frozenset[EventType]:
        """The event types this listener reacts to."""
        ...

    def wants(self, event: Event) -> bool:
        """Whether :meth:`handle` has anything to do for ``event`` (cheap, no SQL)."""
        ...

    def handle(self, conn: Connection, event: Event) -> None:
        """Write what follows from ``event`` on ``conn``; never commit."""
        ...


class Publisher:
    """The listeners a store was given, and how an event reaches them.

    Args:
        listeners: Called in this order for each event of a type they name.
    """

    __slots__ = ("_by_type", "listeners")

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.listeners: tuple[Listener, ...] = tuple(listeners)
        by_type: dict[EventType, list[Listener]] = {}
        for listener in self.listeners:
            for kind in listener.event_types:
                by_type.setdefault(kind, []).append(listener)
        self._by_type = {kind: tuple(found) for kind, found in by_type.items()}

    def wanted(self, event_type: EventType) -> bool:
        """Whether any listener reacts to ``event_type`` (build the event only then)."""
        return event_type in self._by_type

    def publish(self, conn: Connection, event: Event) -> None:
        """Call each interested listener on ``conn``, each in its own savepoint.

        A listener that raises is logged and rolled back alone; the others still run
        and the publisher's change still commits. Except when the connection itself was
        lost: that is the whole transaction's failure, not the listener's, and is raised
        so that the publisher's retry or outage handling sees it.
        """
        for listener in self._by_type.get(event.type, ()):
            if not listener.wants(event):
                continue
            try:
                with conn.begin_nested():
                    listener.handle(conn, event)
            except Exception as error:
                if _connection_lost(error):
                    raise
                log.exception(
                    "listener %s failed on %s of %s; the change is recorded without it",
                    type(listener).__name__,
                    event.type.value,
                    event.subject_id,
                )


def _connection_lost(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database connection is gone.

    SQLAlchemy marks such errors ``connection_invalidated``; read by duck typing so
    that core does not import SQLAlchemy.
    """
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if getattr(seen, "connection_invalidated", False):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
