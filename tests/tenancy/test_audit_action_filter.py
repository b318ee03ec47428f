"""The audit log filtered by action (the dashboard's audit page), newest first, paged."""

from __future__ import annotations

from datetime import UTC, datetime

from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.tenancy import OPERATOR, ApiScope, AuditAction, TenancyService
from spine.tenancy.store import TenancyStore

READ = frozenset({ApiScope.READ})


def test_entries_of_one_action_page_newest_first(db: Database) -> None:
    clock = FrozenClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    tenancy = TenancyService(TenancyStore(db, clock), clock)
    made = [tenancy.create_key(OPERATOR, name=f"k{i}", scopes=READ) for i in range(3)]
    tenancy.revoke_key(OPERATOR, made[0].key.id)

    creations = tenancy.audit_entries(OPERATOR, action=AuditAction.CREATE, limit=2)
    updates = tenancy.audit_entries(OPERATOR, entity_type="api_key", action=AuditAction.UPDATE)
    rest = tenancy.audit_entries(
        OPERATOR, action=AuditAction.CREATE, before_id=creations[-1].id, limit=2
    )

    assert [e.entity_id for e in creations] == [made[2].key.id, made[1].key.id]
    assert [e.entity_id for e in rest] == [made[0].key.id]
    assert [(e.entity_id, e.action) for e in updates] == [(made[0].key.id, AuditAction.UPDATE)]
    assert tenancy.audit_entries(OPERATOR, action=AuditAction.DELETE) == []
