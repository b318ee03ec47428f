"""The data-quality part's rows in spine's database (spec 004 tables): the only SQL of the part.

:class:`QualityStore` opens the transactions; the SQL is in ``checks.py`` (definitions and
schedules), ``recording.py`` (a run's result, incident, job and events in one
transaction), ``jobs.py`` (queuing and durable claims) and ``queries.py`` (results,
incidents, the summary). Users' changes to checks and incidents are audited (entity types
``check`` and ``incident``) in the transaction that makes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from spine.core.clock import Clock
from spine.core.errors import Conflict
from spine.core.events import Listener, Publisher
from spine.core.storage import Database
from spine.core.storage.bounds import check_lengths
from spine.quality.errors import CheckNotFound, ClaimLost, IncidentNotFound, JobNotFound
from spine.quality.incidents import IncidentPolicy, Transition
from spine.quality.models import (
    CheckDefinition,
    CheckOutcome,
    CheckResult,
    Incident,
    Job,
    JobStatus,
)
from spine.quality.store import checks, dashboard, jobs, queries, recording
from spine.quality.store.checks import NextFire
from spine.quality.store.dashboard import CheckRow, TablePassRate
from spine.quality.store.recording import JobClaim, Recording
from spine.quality.store.rows import (
    audited,
    check_values,
    checks_t,
    incident_values,
    incidents_t,
    jobs_t,
    parse_uuid,
)
from spine.tenancy import OPERATOR, Actor, AuditAction, Change, changes_between
from spine.tenancy.bound import ActorBound
from spine.tenancy.store import record

__all__ = ["CheckRow", "JobClaim", "NextFire", "QualityStore", "Recording", "TablePassRate"]

_LABELS = {"target_table": "table", "target_column": "column", "target_schema": "schema"}


class QualityStore(ActorBound):
    """Checks, results, incidents, schedules and jobs on spine's database.

    The definitions' and incidents' methods read and write the actor's workspace only.
    Queuing due schedules and claiming jobs are the engine's and work across workspaces.

    Args:
        database: Spine's database.
        clock: Where times come from.
        next_fire: The next fire time of a cron in a zone (the workflow schedules' cron
            and DST rules, injected by bootstrap: quality does not import scheduling).
        policy: How results move incidents.
        listeners: Get ``check.result`` and ``incident.changed`` in the recording
            transaction.
        actor: Who reads and changes, in which workspace.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        next_fire: NextFire,
        policy: IncidentPolicy | None = None,
        listeners: Sequence[Listener] = (),
        actor: Actor = OPERATOR,
    ) -> None:
        self.database = database
        self.clock = clock
        self.next_fire = next_fire
        self.policy = policy or IncidentPolicy()
        self.listeners = Publisher(listeners)
        self.actor = actor

    def _audit(
        self,
        conn: sa.Connection,
        entity_type: str,
        action: AuditAction,
        entity_id: uuid.UUID,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        change = Change(
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            changes=changes_between(old, new),
        )
        record(conn, self.actor, change, now)

    # ------------------------------------------------------------ definitions

    def add_check(self, check: CheckDefinition) -> CheckDefinition:
        """Insert ``check`` (and its schedule) in the actor's workspace; audited.

        Raises:
            Conflict: If a check of the workspace has that name.
            InvalidInput: If a text field is longer than its column.
        """
        values = check_values(check)
        check_lengths(checks_t, values, what="check", labels=_LABELS)
        now = self.clock.now()

        def work(conn: sa.Connection) -> CheckDefinition:
            if checks.name_taken(conn, self.workspace_id, check.name):
                raise Conflict(f"check {check.name!r} already exists")
            conn.execute(sa.insert(checks_t).values(values))
            checks.write_schedule(conn, check, None, now, self.next_fire)
            self._audit(conn, "check", AuditAction.CREATE, check.id, None, audited(check), now)
            found = checks.find(conn, self.workspace_id, str(check.id))
            assert found is not None
            return found

        try:
            return self.database.run_write(work)
        except exc.IntegrityError:
            raise Conflict(f"check {check.name!r} already exists") from None

    def get_check(self, ref: str) -> CheckDefinition:
        """The workspace's check whose id (else name) is ``ref``.

        Raises:
            CheckNotFound: If there is none.
        """
        found = self.database.run_read(lambda conn: checks.find(conn, self.workspace_id, ref))
        if found is None:
            raise CheckNotFound(ref)
        return found

    def list_checks(self, **filters: Any) -> list[CheckDefinition]:
        """The workspace's checks by name (filters: :func:`checks.listing`)."""
        return self.database.run_read(
            lambda conn: checks.listing(conn, self.workspace_id, **filters)
        )

    def update_check(
        self, ref: str, revise: Callable[[CheckDefinition], CheckDefinition]
    ) -> CheckDefinition:
        """Replace the check ``ref`` with ``revise(current)`` (its schedule follows); audited.

        A check disabled by the change has its queued jobs cancelled.

        Raises:
            CheckNotFound: If there is none.
            Conflict: If the new name is taken.
            InvalidInput: What ``revise`` raises, or a text field too long.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> CheckDefinition:
            old = checks.find(conn, self.workspace_id, ref, lock=True)
            if old is None:
                raise CheckNotFound(ref)
            new = revise(old)
            values = check_values(new)
            check_lengths(checks_t, values, what="check", labels=_LABELS)
            if new.name != old.name and checks.name_taken(
                conn, self.workspace_id, new.name, but=old.id
            ):
                raise Conflict(f"check {new.name!r} already exists")
            for key in ("id", "workspace_id", "created_at"):
                values.pop(key)
            values["updated_at"] = now
            conn.execute(sa.update(checks_t).where(checks_t.c.id == old.id).values(values))
            checks.write_schedule(conn, new, old, now, self.next_fire)
            if old.enabled and not new.enabled:
                checks.cancel_queued(conn, old.id, now, "the check was disabled")
            self._audit(conn, "check", AuditAction.UPDATE, old.id, audited(old), audited(new), now)
            found = checks.find(conn, self.workspace_id, str(old.id))
            assert found is not None
            return found

        try:
            return self.database.run_write(work)
        except exc.IntegrityError:
            raise Conflict("a check of that name already exists") from None

    def remove_check(self, ref: str) -> CheckDefinition:
        """Delete the check with its results, incidents, schedule and jobs; audited.

        Raises:
            CheckNotFound: If there is none.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> CheckDefinition:
            old = checks.find(conn, self.workspace_id, ref, lock=True)
            if old is None:
                raise CheckNotFound(ref)
            conn.execute(sa.delete(checks_t).where(checks_t.c.id == old.id))
            self._audit(conn, "check", AuditAction.DELETE, old.id, audited(old), None, now)
            return old

        return self.database.run_write(work)

    # ---------------------------------------------------------------- results

    def record(self, rec: Recording) -> CheckOutcome:
        """Record one check's run (result, incident, job, events) in one transaction.

        Raises:
            ClaimLost: If ``rec.job`` is held by another worker now (nothing written).
        """
        now = self.clock.now()
        return self.database.run_write(
            lambda conn: recording.record(
                conn, rec, policy=self.policy, publisher=self.listeners, now=now
            )
        )

    def record_many(self, recs: Sequence[Recording]) -> list[CheckOutcome | ClaimLost]:
        """Record several checks' runs (one scan's) in one transaction.

        Each check's result, incident change, job and events are written together; a
        job whose claim was lost writes nothing (its :class:`ClaimLost` takes its place
        in the returned list) and the others commit. One transaction per scan instead
        of one per check: a worker's batch of a hundred checks costs one commit.
        """
        if not recs:
            return []
        now = self.clock.now()

        def work(conn: sa.Connection) -> list[CheckOutcome | ClaimLost]:
            return recording.record_batch(
                conn, recs, policy=self.policy, publisher=self.listeners, now=now
            )

        return self.database.run_write(work)

    def results(
        self,
        check_id: uuid.UUID,
        *,
        since: datetime | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[CheckResult]:
        """The check's results, newest first."""
        return self.database.run_read(
            lambda conn: queries.results(
                conn, check_id, since=since, limit=limit, before_id=before_id
            )
        )

    def latest_results(self, check_ids: list[uuid.UUID]) -> dict[uuid.UUID, CheckResult]:
        """Each check's most recent result."""
        return self.database.run_read(lambda conn: queries.latest_results(conn, check_ids))

    def check_rows(self, *, since: datetime, **filters: Any) -> list[CheckRow]:
        """A page of checks with their latest result and daily pass rates from ``since``.

        Two statements in one read: the page with each check's newest result
        (:func:`dashboard.checks_with_latest`, filters as there), then the page's pass
        rates per day (:func:`dashboard.daily_pass_rates`).
        """

        def read(conn: sa.Connection) -> list[CheckRow]:
            rows = dashboard.checks_with_latest(conn, self.workspace_id, **filters)
            days = dashboard.daily_pass_rates(conn, [r.check.id for r in rows], since)
            return [replace(r, days=days.get(r.check.id, [])) for r in rows]

        return self.database.run_read(read)

    def table_pass_rates(self, *, since: datetime) -> list[TablePassRate]:
        """The pass rate of every watched table from ``since``, worst first."""
        return self.database.run_read(
            lambda conn: dashboard.table_pass_rates(conn, self.workspace_id, since)
        )

    def incident_board(self, *, resolved_limit: int = 20) -> tuple[list[Incident], list[Incident]]:
        """Unresolved incidents (worst first) and the ``resolved_limit`` latest resolved."""
        return self.database.run_read(
            lambda conn: dashboard.incident_board(
                conn, self.workspace_id, resolved_limit=resolved_limit
            )
        )

    # -------------------------------------------------------------- incidents

    def incidents(self, **filters: Any) -> list[Incident]:
        """The workspace's incidents (filters: :func:`queries.incidents`)."""
        return self.database.run_read(
            lambda conn: queries.incidents(conn, self.workspace_id, **filters)
        )

    def get_incident(self, ref: str) -> Incident:
        """The workspace's incident ``ref`` (an id).

        Raises:
            IncidentNotFound: If there is none.
        """
        incident_id = parse_uuid(ref)
        found = (
            None
            if incident_id is None
            else self.database.run_read(
                lambda conn: queries.incident(conn, self.workspace_id, incident_id)
            )
        )
        if found is None:
            raise IncidentNotFound(ref)
        return found

    def open_incident(self, check_id: uuid.UUID) -> Incident | None:
        """The check's open or acknowledged incident."""
        return self.database.run_read(lambda conn: queries.open_incident(conn, check_id))

    def change_incident(
        self, ref: str, change: Callable[[Incident, datetime], Transition]
    ) -> Incident:
        """Apply a user's change (acknowledge, resolve) to the incident ``ref``; audited.

        Raises:
            IncidentNotFound: If there is none.
            Conflict: What ``change`` raises (resolving a resolved incident ...).
        """
        incident_id = parse_uuid(ref)
        if incident_id is None:
            raise IncidentNotFound(ref)
        now = self.clock.now()

        def work(conn: sa.Connection) -> Incident:
            old = queries.incident(conn, self.workspace_id, incident_id, lock=True)
            if old is None:
                raise IncidentNotFound(ref)
            transition = change(old, now)
            new = transition.incident
            assert new is not None
            values = incident_values(new)
            for key in ("id", "check_id", "created_at"):
                values.pop(key)
            conn.execute(sa.update(incidents_t).where(incidents_t.c.id == old.id).values(values))
            before, after = _incident_audited(old), _incident_audited(new)
            self._audit(conn, "incident", AuditAction.UPDATE, old.id, before, after, now)
            check = checks.find(conn, self.workspace_id, str(old.check_id))
            assert check is not None
            recording.publish_incident(conn, self.listeners, check, transition)
            return new

        return self.database.run_write(work)

    # ------------------------------------------------------------------- jobs

    def queue_job(self, check: CheckDefinition, *, triggered_by: str) -> Job:
        """Queue a job for ``check`` (of the actor's workspace)."""
        now = self.clock.now()
        return self.database.run_write(
            lambda conn: jobs.insert_job(conn, check.id, now, triggered_by=triggered_by)
        )

    def get_job(self, ref: str) -> Job:
        """The workspace's job ``ref``.

        Raises:
            JobNotFound: If there is none.
        """
        job_id = parse_uuid(ref)
        found = (
            None
            if job_id is None
            else self.database.run_read(lambda conn: jobs.get(conn, self.workspace_id, job_id))
        )
        if found is None:
            raise JobNotFound(ref)
        return found

    def list_jobs(self, **filters: Any) -> list[Job]:
        """The workspace's jobs, newest first (filters: :func:`jobs.listing`)."""
        return self.database.run_read(lambda conn: jobs.listing(conn, self.workspace_id, **filters))

    def cancel_job(self, ref: str) -> Job:
        """Cancel a queued job of the workspace.

        Raises:
            JobNotFound: If there is none.
            Conflict: If it is not queued any more.
        """
        job = self.get_job(ref)
        now = self.clock.now()

        def work(conn: sa.Connection) -> None:
            done = conn.execute(
                sa.update(jobs_t)
                .where(jobs_t.c.id == job.id, jobs_t.c.status == "queued")
                .values(status=JobStatus.CANCELLED.value, completed_at=now)
            )
            if done.rowcount != 1:
                raise Conflict(f"job {job.id} is not queued; it cannot be cancelled")

        self.database.run_write(work)
        return self.get_job(ref)

    def queue_due(self, *, limit: int = 500) -> list[Job]:
        """Queue a job for every due schedule (all workspaces); the scheduler's tick."""
        now = self.clock.now()
        return self.database.run_write(
            lambda conn: jobs.queue_due(conn, now, self.next_fire, limit=limit)
        )

    def installed(self) -> bool:
        """Whether spec 004's quality tables exist (the intermediate tier or above)."""
        with self.database.engine.connect() as conn:
            return sa.inspect(conn).has_table(jobs_t.name)

    def next_due(self) -> datetime | None:
        """The earliest next run of any enabled schedule (all workspaces)."""
        return self.database.run_read(jobs.next_due)

    def claim_jobs(
        self, worker_id: str, *, lease_seconds: float, max_attempts: int, limit: int = 200
    ) -> list[tuple[Job, CheckDefinition]]:
        """Claim a batch of due jobs by whole tables (all workspaces); see :mod:`.jobs`."""
        now = self.clock.now()
        return self.database.run_write(
            lambda conn: jobs.claim_table_batch(
                conn,
                worker_id,
                now,
                lease_seconds=lease_seconds,
                max_attempts=max_attempts,
                limit=limit,
            )
        )

    def fail_job(self, job_id: uuid.UUID, worker_id: str, error: str) -> bool:
        """Fail a job this worker holds whose run broke outside any check."""
        return self.database.run_write(lambda conn: jobs.release(conn, job_id, worker_id, error))

    # ---------------------------------------------------------------- summary

    def summary(self) -> dict[str, Any]:
        """Spec 004's four useful queries for the workspace."""
        now = self.clock.now()
        return self.database.run_read(lambda conn: queries.summary(conn, self.workspace_id, now))


def _incident_audited(incident: Incident) -> dict[str, Any]:
    return {
        "status": incident.status.value,
        "acknowledged_by": incident.acknowledged_by,
        "resolution_notes": incident.resolution_notes,
    }
