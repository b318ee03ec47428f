"""What every part of :class:`~spine.sources.store.SourceStore` shares: the actor.

:class:`WorkspaceStore` holds the database, the listeners and the
:class:`~spine.tenancy.Actor` a store acts as, and writes the audit rows of its changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.events import Listener, Publisher
from spine.core.storage import Database
from spine.tenancy import OPERATOR, Actor, AuditAction, Change
from spine.tenancy.bound import ActorBound
from spine.tenancy.store import record


class WorkspaceStore(ActorBound):
    """A store bound to an actor, and so to the actor's workspace.

    Args:
        database: Spine's database.
        listeners: Get the events of the store's writes, in their transaction.
        actor: Who reads and writes, in which workspace (the CLI's default one unless
            told).
    """

    def __init__(
        self,
        database: Database,
        *,
        listeners: Sequence[Listener] = (),
        actor: Actor = OPERATOR,
    ) -> None:
        self.db = database
        self.listeners = Publisher(listeners)
        self.actor = actor

    def _audit(
        self,
        conn: sa.Connection,
        entity_type: str,
        entity_id: str,
        action: AuditAction,
        changes: Mapping[str, Any],
        at: datetime,
    ) -> None:
        change = Change(
            entity_type=entity_type, entity_id=entity_id, action=action, changes=changes
        )
        record(conn, self.actor, change, at)
