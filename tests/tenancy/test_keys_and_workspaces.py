"""Tenancy's service on a real database: keys made and checked, workspaces found, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spine.core.clock import FrozenClock
from spine.core.errors import Conflict, InvalidInput, NotFound
from spine.core.storage import Database
from spine.scheduling.models import Schedule, ScheduleType
from spine.scheduling.store import ScheduleStore
from spine.tenancy import (
    ALL_SCOPES,
    OPERATOR,
    Actor,
    ApiScope,
    PermissionDenied,
    TenancyService,
    Unauthenticated,
)
from spine.tenancy.audit import SECRET_MARK
from spine.tenancy.store import TenancyStore

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
READ = frozenset({ApiScope.READ})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def tenancy(db: Database, clock: FrozenClock) -> TenancyService:
    return TenancyService(TenancyStore(db, clock), clock)


def test_a_key_authenticates_as_itself_and_nothing_close_does(tenancy: TenancyService) -> None:
    made = tenancy.create_key(OPERATOR, name="ci", scopes=READ)

    assert tenancy.authenticate(made.secret).id == made.key.id
    assert made.secret.startswith(made.key.key_prefix)
    tampered = made.secret[:-1] + ("A" if made.secret[-1] != "A" else "B")
    for wrong in (tampered, made.key.key_prefix, "", "Bearer " + made.secret):
        with pytest.raises(Unauthenticated):
            tenancy.authenticate(wrong)


def test_revoked_and_expired_keys_are_refused(tenancy: TenancyService, clock: FrozenClock) -> None:
    revoked = tenancy.create_key(OPERATOR, name="old", scopes=READ)
    expiring = tenancy.create_key(OPERATOR, name="short", scopes=READ, expires_in_days=1)
    tenancy.revoke_key(OPERATOR, revoked.key.id)
    assert tenancy.authenticate(expiring.secret).id == expiring.key.id

    clock.advance(timedelta(days=1))

    for made in (revoked, expiring):
        with pytest.raises(Unauthenticated):
            tenancy.authenticate(made.secret)


def test_a_key_cannot_grant_a_scope_it_lacks(tenancy: TenancyService) -> None:
    reader = tenancy.create_key(OPERATOR, name="reader", scopes=READ).key.actor()

    with pytest.raises(PermissionDenied, match="write"):
        tenancy.create_key(reader, name="escalate", scopes=frozenset({ApiScope.WRITE}))
    assert tenancy.create_key(reader, name="same", scopes=READ).key.scopes == READ


def test_last_use_is_written_once_a_minute_not_per_request(
    tenancy: TenancyService, clock: FrozenClock
) -> None:
    made = tenancy.create_key(OPERATOR, name="busy", scopes=READ)
    tenancy.authenticate(made.secret)
    first = tenancy.keys(OPERATOR)[0].last_used_at

    clock.advance(timedelta(seconds=30))
    tenancy.authenticate(made.secret)
    after_30_s = tenancy.keys(OPERATOR)[0].last_used_at
    clock.advance(timedelta(seconds=31))
    tenancy.authenticate(made.secret)
    after_61_s = tenancy.keys(OPERATOR)[0].last_used_at

    assert first == START
    assert after_30_s == START
    assert after_61_s == START + timedelta(seconds=61)


def test_key_changes_are_audited_without_the_digest(tenancy: TenancyService) -> None:
    made = tenancy.create_key(OPERATOR, name="ci", scopes=ALL_SCOPES)
    tenancy.revoke_key(OPERATOR, made.key.id)

    entries = tenancy.audit_entries(OPERATOR, entity_id=str(made.key.id))

    assert [e.action.value for e in entries] == ["update", "create"]
    created = entries[1].changes or {}
    assert created["key_hash"] == {"old": None, "new": SECRET_MARK}
    assert created["scopes"]["new"] == ["admin", "read", "write"]
    assert entries[0].api_key_id is None
    assert all(made.secret not in str(e.changes) for e in entries)


def test_workspaces_are_found_by_id_org_and_name_or_unambiguous_name(
    tenancy: TenancyService,
) -> None:
    tenancy.create_organization("acme")
    tenancy.create_organization("globex")
    acme = tenancy.create_workspace("data", "acme", OPERATOR)
    tenancy.create_workspace("data", "globex", OPERATOR)
    tenancy.create_workspace("ops", "acme", OPERATOR)

    assert tenancy.workspace("acme/data").id == acme.id
    assert tenancy.workspace(str(acme.id)).id == acme.id
    assert tenancy.workspace("ops").organization_name == "acme"
    with pytest.raises(NotFound, match="several organizations"):
        tenancy.workspace("data")
    with pytest.raises(Conflict):
        tenancy.create_workspace("data", "acme", OPERATOR)
    with pytest.raises(NotFound):
        tenancy.create_workspace("new", "initech", OPERATOR)
    assert [e.entity_type for e in tenancy.audit_entries(Actor(workspace_id=acme.id))] == [
        "workspace"
    ]


def test_users_are_unique_by_email_whatever_its_case(tenancy: TenancyService) -> None:
    tenancy.add_user("Ada@Example.com", "Ada")

    with pytest.raises(Conflict):
        tenancy.add_user("ada@example.com")
    with pytest.raises(InvalidInput):
        tenancy.add_user("not-an-email")
    assert [u.email for u in tenancy.users()] == ["Ada@Example.com"]


def test_spine_itself_writes_no_audit_rows(tenancy: TenancyService) -> None:
    system = Actor.system_in(OPERATOR.workspace_id)
    tenancy.create_key(system, name="internal", scopes=READ)

    assert tenancy.audit_entries(OPERATOR) == []


def test_a_key_revoked_by_another_process_is_refused_at_once_by_default(
    tenancy: TenancyService, db: Database, clock: FrozenClock
) -> None:
    made = tenancy.create_key(OPERATOR, name="ci", scopes=READ)
    assert tenancy.authenticate(made.secret).id == made.key.id
    elsewhere = TenancyService(TenancyStore(db, clock), clock)  # the CLI, another API

    elsewhere.revoke_key(OPERATOR, str(made.key.id))

    with pytest.raises(Unauthenticated):
        tenancy.authenticate(made.secret)


def test_a_cached_key_is_refused_as_soon_as_it_is_revoked_through_its_process(
    db: Database, clock: FrozenClock
) -> None:
    tenancy = TenancyService(TenancyStore(db, clock), clock, key_cache_seconds=60)
    made = tenancy.create_key(OPERATOR, name="cached", scopes=READ)
    assert tenancy.authenticate(made.secret).id == made.key.id  # now kept in the process

    tenancy.revoke_key(OPERATOR, str(made.key.id))

    with pytest.raises(Unauthenticated):
        tenancy.authenticate(made.secret)


def test_keys_page_newest_first_by_creation_then_id(
    tenancy: TenancyService, clock: FrozenClock
) -> None:
    made = [tenancy.create_key(OPERATOR, name=f"k{n}", scopes=READ).key for n in range(3)]
    clock.advance(timedelta(seconds=1))
    newest = tenancy.create_key(OPERATOR, name="newest", scopes=READ).key

    first = tenancy.keys(OPERATOR, limit=2)
    rest = tenancy.keys(OPERATOR, after=(first[-1].created_at, first[-1].id))

    assert first[0].id == newest.id
    assert [k.id for k in first + rest][1:] == sorted((k.id for k in made), reverse=True)


def test_an_update_that_changes_nothing_writes_no_audit_row(
    db: Database, clock: FrozenClock
) -> None:
    schedules = ScheduleStore(db, clock)
    schedules.add(
        Schedule(
            id="01JCCCCCCCCCCCCCCCCCCCCCCC",
            name="nightly",
            target_type="workflow",
            target_name="finra.weekly_ingest",
            schedule_type=ScheduleType.CRON,
            cron_expression="0 2 * * *",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    schedules.set_enabled("nightly", False, None)
    schedules.set_enabled("nightly", False, None)  # paused already

    tenancy = TenancyService(TenancyStore(db, clock), clock)
    actions = [e.action.value for e in tenancy.audit_entries(OPERATOR, entity_type="schedule")]
    assert actions == ["update", "create"]
