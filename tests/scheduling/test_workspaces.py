"""Schedules in workspaces: each store sees its own, changes are audited, and the
scheduler fires every workspace's schedules with each run in its schedule's workspace."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from spine.core.clock import FrozenClock
from spine.core.errors import Conflict
from spine.core.events import Connection, Event, EventType
from spine.core.storage import Database
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.scheduling import (
    Schedule,
    ScheduleNotFound,
    Scheduler,
    ScheduleRunTracker,
    ScheduleStore,
    new_schedule,
)
from spine.tenancy import Actor, TenancyService
from spine.tenancy.store import TenancyStore

FIRE = EventType.SCHEDULE_FIRE


class Collector:
    """Keeps the ``schedule.fire`` events it is handed."""

    event_types = frozenset({FIRE})

    def __init__(self) -> None:
        self.events: list[Event] = []

    def wants(self, event: Event) -> bool:
        return True

    def handle(self, conn: Connection, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
def tenancy(db: Database, clock: FrozenClock) -> TenancyService:
    return TenancyService(TenancyStore(db, clock), clock)


@pytest.fixture
def spaces(tenancy: TenancyService) -> tuple[uuid.UUID, uuid.UUID]:
    ids = []
    for org in ("acme", "globex"):
        tenancy.create_organization(org)
        ids.append(tenancy.create_workspace("data", org, Actor()).id)
    return ids[0], ids[1]


def _in(store: ScheduleStore, workspace_id: uuid.UUID) -> ScheduleStore:
    return store.acting_as(Actor(workspace_id=workspace_id))


def _nightly(
    clock: FrozenClock, workflows: WorkflowRegistry, name: str = "nightly", **options: object
) -> Schedule:
    options.setdefault("every", 60)
    return new_schedule(
        name,
        workflow="demo.ok",
        now=clock.now(),
        registry=workflows,
        **options,  # type: ignore[arg-type]
    )


def test_each_workspace_has_its_nightly_and_cannot_reach_the_other(
    schedules: ScheduleStore,
    clock: FrozenClock,
    workflows: WorkflowRegistry,
    spaces: tuple[uuid.UUID, uuid.UUID],
) -> None:
    a, b = (_in(schedules, w) for w in spaces)
    mine = a.add(_nightly(clock, workflows))
    theirs = b.add(_nightly(clock, workflows))
    assert (mine.workspace_id, theirs.workspace_id) == spaces
    assert [s.id for s in a.list_schedules()] == [mine.id]
    assert [s.id for s in b.page(after_id=None, limit=10)] == [theirs.id]
    assert a.get("nightly").id == mine.id and b.find("nightly").id == theirs.id
    assert schedules.list_schedules() == []  # the default workspace has none

    missing = str(ScheduleNotFound("nope"))
    for call in (
        lambda: b.find(mine.id),
        lambda: b.set_enabled(mine.id, False, None),
        lambda: b.update(mine.id, lambda old: old),
        lambda: b.remove(mine.id),
    ):
        with pytest.raises(ScheduleNotFound) as caught:
            call()
        assert str(caught.value) == missing.replace("nope", mine.id)
    assert b.runs(mine.id) == []
    assert a.find(mine.id) == mine
    with pytest.raises(Conflict):
        a.add(_nightly(clock, workflows))


def test_changes_write_one_audit_row_each_and_refused_ones_none(
    schedules: ScheduleStore,
    clock: FrozenClock,
    workflows: WorkflowRegistry,
    spaces: tuple[uuid.UUID, uuid.UUID],
    tenancy: TenancyService,
) -> None:
    operator = Actor(workspace_id=spaces[0])
    store = schedules.acting_as(operator)
    made = store.add(_nightly(clock, workflows))
    with pytest.raises(Conflict):
        store.add(_nightly(clock, workflows))
    with pytest.raises(ScheduleNotFound):
        store.remove("nope")
    store.set_enabled("nightly", False, None)
    store.remove(made.id)
    # Spine itself changes without audit rows.
    schedules.acting_as(Actor.system_in(spaces[0])).add(_nightly(clock, workflows))

    entries = list(reversed(tenancy.audit_entries(operator, entity_type="schedule")))
    assert [e.action.value for e in entries] == ["create", "update", "delete"]
    assert all(e.api_key_id is None for e in entries)
    assert entries[1].changes == {
        "enabled": {"old": True, "new": False},
        "next_run_at": {"old": made.next_run_at.isoformat() if made.next_run_at else None,
                        "new": None},
    }  # fmt: skip
    assert entries[2].changes is not None and entries[2].changes["name"]["old"] == "nightly"
    assert tenancy.audit_entries(Actor(workspace_id=spaces[1]), entity_type="schedule") == []


def test_the_scheduler_fires_every_workspace_each_run_and_event_in_its_own(
    db: Database,
    schedules: ScheduleStore,
    clock: FrozenClock,
    workflows: WorkflowRegistry,
    spaces: tuple[uuid.UUID, uuid.UUID],
) -> None:
    collector = Collector()
    store = ScheduleStore(db, clock, listeners=(collector,))
    runner = WorkflowRunner(
        RunStore(db, clock, listeners=(ScheduleRunTracker([collector]),)),
        clock=clock,
        workflow_registry=workflows,
        pipeline_registry=PipelineRegistry(),
    )
    made = {w: _in(store, w).add(_nightly(clock, workflows)) for w in spaces}
    # A fire recorded MISSED is published when it is recorded.
    graced = {
        w: _in(store, w).add(
            _nightly(
                clock, workflows, "graced", cron="*/5 * * * *", every=None,
                misfire_grace_seconds=30,
            )
        )
        for w in spaces
    }  # fmt: skip
    clock.advance(timedelta(minutes=5, seconds=45))
    outcomes = Scheduler(store, runner, clock=clock, lock_seconds=5).tick()

    ran = {o.schedule_id: o for o in outcomes if o.run_id is not None}
    assert set(ran) == {s.id for s in made.values()}
    for workspace_id, schedule in made.items():
        outcome = ran[schedule.id]
        assert outcome.workspace_id == str(workspace_id)
        with db.read() as conn:
            owner = conn.execute(
                sa.select(runs_t.c.workspace_id).where(runs_t.c.run_id == outcome.run_id)
            ).scalar_one()
        assert owner == workspace_id
    # As a worker does: claim and execute whatever is due, whatever its workspace.
    while (claim := runner.claim()) is not None:
        runner.execute(claim)
    assert _published(collector, "MISSED") == {(s.id, str(w)) for w, s in graced.items()}
    assert _published(collector, "COMPLETED") == {(s.id, str(w)) for w, s in made.items()}


def _published(collector: Collector, status: str) -> set[tuple[str, str | None]]:
    return {
        (e.subject_id, e.workspace_id) for e in collector.events if e.payload["status"] == status
    }
