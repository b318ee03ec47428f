"""Users, roles and alerts made on a real database for the actions and people tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from spine.automation.models import AlertSeverity, Recipient, RecipientType
from spine.automation.store.alerts import insert_alert, resolve_recipients
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.tenancy import OPERATOR, Actor, TenancyService
from spine.tenancy.store import TenancyStore

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@dataclass
class People:
    """Ada holds role ``oncall``; Bob holds nothing; Cy holds ``desk``."""

    db: Database
    clock: FrozenClock
    tenancy: TenancyService
    actor: Actor = OPERATOR

    def alert(
        self,
        *recipients: str,
        alert_type: str = "automation",
        expires_in: timedelta | None = None,
        title: str = "t",
    ) -> uuid.UUID:
        """An alert addressed to emails and role names."""
        with self.db.write() as conn:
            found = resolve_recipients(conn, self.actor.workspace_id, list(recipients))
            return insert_alert(
                conn,
                workspace_id=self.actor.workspace_id,
                alert_type=alert_type,
                severity=AlertSeverity.HIGH,
                title=title,
                message="m",
                recipients=found,
                now=self.clock.now(),
                expires_date=None if expires_in is None else self.clock.now() + expires_in,
            )


def make_people(db: Database) -> People:
    clock = FrozenClock(AT)
    tenancy = TenancyService(TenancyStore(db, clock), clock)
    for email in ("ada@example.com", "bob@example.com", "cy@example.com"):
        tenancy.add_user(email)
    tenancy.add_role("oncall")
    tenancy.add_role("desk")
    tenancy.assign_role("oncall", "ada@example.com")
    tenancy.assign_role("desk", "cy@example.com")
    return People(db=db, clock=clock, tenancy=tenancy)


def recipient(kind: RecipientType, name: str) -> Recipient:
    return Recipient(type=kind, id=uuid.uuid4(), name=name)
