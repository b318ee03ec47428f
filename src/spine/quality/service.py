"""The data-quality service: what the CLI, the API and workflow steps call.

Every method acts in the actor's workspace (:class:`~spine.tenancy.Actor`); an object of
another workspace is not found. Bad input raises :class:`~spine.core.errors.InvalidInput`
with one clear line and writes nothing. The contract (names, arguments, returns) is
``docs/quality.md``'s; the SQL is the store's, the running :mod:`spine.quality.runner`'s.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Self

from spine.core.clock import Clock
from spine.core.errors import InvalidInput
from spine.quality.catalogue import CATALOGUE, CheckType, check_type, validate_config
from spine.quality.incidents import acknowledge, resolve
from spine.quality.models import (
    CheckDefinition,
    CheckOutcome,
    CheckResult,
    Incident,
    IncidentStatus,
    Job,
    JobStatus,
    QualitySummary,
    Severity,
    TargetType,
)
from spine.quality.rules import validate_rules
from spine.quality.runner import CheckRunner, RegistryFor, registry_ref
from spine.quality.sql import describe_table
from spine.quality.store import QualityStore
from spine.quality.store.dashboard import LATEST_STATUSES, CheckRow, TablePassRate, day_start
from spine.sources.connections import check_name, check_text
from spine.sources.models import Connection
from spine.sources.store import Ref
from spine.tenancy import Actor
from spine.tenancy.audit import entity_uuid

__all__ = ["CheckOutcome", "QualityService", "QualitySummary"]

#: The fields :meth:`QualityService.update_check` may change.
UPDATABLE = frozenset(
    {
        "description",
        "config",
        "severity",
        "tags",
        "enabled",
        "cron",
        "timezone",
        "table",
        "column",
        "check_type",
        "connection",
    }
)
_TRIGGERS = ("api", "cli", "schedule", "webhook", "workflow")


def _severity(value: str | Severity) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise InvalidInput(
            f"unknown severity {value!r}: expected warning, error or fatal"
        ) from None


def _split_table(table: str) -> tuple[str | None, str]:
    text = table.strip()
    schema, _, name = text.rpartition(".")
    if not name or (schema == "" and "." in text):
        raise InvalidInput(f"bad table {table!r}: expected TABLE or SCHEMA.TABLE")
    check_text(text, "table")
    return (schema or None), name


class QualityService:
    """Checks, runs, jobs, results, incidents and the summary, in one workspace.

    Args:
        store: The part's rows.
        runner: Measures, judges and records checks.
        registry_for: The registered connections of a workspace.
        clock: Where times come from.
        next_fire: Validates a cron and zone (the schedule's own next run is the store's).
    """

    def __init__(
        self,
        store: QualityStore,
        runner: CheckRunner,
        registry_for: RegistryFor,
        clock: Clock,
    ) -> None:
        self.store = store
        self.runner = runner
        self.registry_for = registry_for
        self.clock = clock

    @property
    def actor(self) -> Actor:
        """Who acts, in which workspace."""
        return self.store.actor

    @property
    def workspace_id(self) -> uuid.UUID:
        """The workspace this service reads and writes."""
        return self.store.workspace_id

    def acting_as(self, actor: Actor) -> Self:
        """This service acting as ``actor`` (sharing everything else)."""
        other = copy.copy(self)
        other.store = self.store.acting_as(actor)
        return other

    # -------------------------------------------------------------- catalogue

    def check_types(self) -> list[CheckType]:
        """Every check type, in the catalogue's order (table level, then column level)."""
        return list(CATALOGUE.values())

    # ------------------------------------------------------------ definitions

    def add_check(
        self,
        name: str,
        *,
        connection: str,
        check_type: str,
        table: str,
        column: str | None = None,
        config: Mapping[str, Any] | None = None,
        severity: str = "error",
        tags: Sequence[str] = (),
        cron: str | None = None,
        timezone: str = "UTC",
        description: str | None = None,
        enabled: bool = True,
    ) -> CheckDefinition:
        """Define a check (validated; the table and column must exist when reachable).

        Raises:
            InvalidInput: A bad name, type, config, severity, cron, zone, table or column.
            ConnectionNotFound: If the workspace has no such connection.
            Conflict: If a check of the workspace has that name.
        """
        check_name(name, "check")
        now = self.clock.now()
        registry = self.registry_for(self.workspace_id)
        found = registry.get(connection)
        schema, table_name = _split_table(table)
        draft = CheckDefinition(
            id=uuid.uuid4(),
            workspace_id=self.workspace_id,
            connection_id=entity_uuid(found.id),  # the mirror's id, made once valid
            connection_name=found.name,
            name=name,
            check_type=check_type,
            target_type=TargetType.TABLE,
            target_schema=schema,
            target_table=table_name,
            target_column=column or None,
            config=dict(config or {}),
            severity=_severity(severity),
            enabled=enabled,
            tags=self._tags(tags),
            description=description,
            created_at=now,
            updated_at=now,
            cron_expression=cron or None,
            timezone=(timezone or "UTC") if cron else None,
        )
        check = self._validated(draft, found, now)
        # Written only for a valid check: bad input leaves nothing behind.
        mirror_id = registry.ensure_mirror(Ref.id(found.id))
        return self.store.add_check(replace(check, connection_id=mirror_id))

    def _tags(self, tags: Sequence[str]) -> tuple[str, ...]:
        if isinstance(tags, str):
            tags = [tags]
        out: list[str] = []
        for tag in tags:
            if not isinstance(tag, str) or not tag.strip():
                raise InvalidInput(f"bad tag {tag!r}: a tag is non-empty text")
            check_text(tag, "tag")
            if tag.strip() not in out:
                out.append(tag.strip())
        return tuple(out)

    def _validated(
        self, check: CheckDefinition, connection: Connection, now: datetime
    ) -> CheckDefinition:
        """``check`` with its target type set, or InvalidInput naming what is wrong."""
        kind = check_type(check.check_type)
        if not isinstance(check.config, dict):
            raise InvalidInput("config must be a JSON object")
        validate_config(kind.name, check.target_column, check.config)
        validate_rules(check.config, check.severity)
        if check.cron_expression is not None:
            self.store.next_fire(check.cron_expression, check.timezone or "UTC", now)
        self._target_exists(check, connection)
        return replace(check, target_type=kind.level)

    def _target_exists(self, check: CheckDefinition, connection: Connection) -> None:
        """Refuse a table or column the database does not have, when it can be reached."""
        registry = self.registry_for(self.workspace_id)
        try:
            engine = registry.databases.engine(connection, registry.password(connection))
            columns = describe_table(engine, check.target_schema, check.target_table)
        except InvalidInput:
            raise
        except Exception:  # a SpineError, or the driver's DBAPIError
            return  # unreachable now: the check will say so when it runs
        known = {name.lower() for name in columns}
        # column_exists watches for a column that may be absent: that is its finding,
        # not a typo to refuse.
        watched = check.target_column and check.check_type != "column_exists"
        wanted = [check.target_column] if watched else []
        extra = check.config.get("columns")
        if isinstance(extra, list):
            wanted += [c for c in extra if isinstance(c, str)]
        if isinstance(check.config.get("time_column"), str):
            wanted.append(check.config["time_column"])
        for column in wanted:
            if column and column.lower() not in known:
                raise InvalidInput(
                    f"column {column!r} not found in table {check.table_label!r} of "
                    f"connection {connection.name!r}"
                )

    def update_check(self, ref: str, changes: Mapping[str, Any]) -> CheckDefinition:
        """Change some of :data:`UPDATABLE`; ``cron=None`` removes the schedule.

        Raises:
            CheckNotFound: If there is no such check.
            InvalidInput: An unknown field or a value refused as by :meth:`add_check`.
        """
        unknown = sorted(set(changes) - UPDATABLE)
        if unknown:
            raise InvalidInput(f"check fields {', '.join(unknown)} cannot be changed")
        now = self.clock.now()
        registry = self.registry_for(self.workspace_id)
        target: Connection | None = None
        mirror: uuid.UUID | None = None
        if changes.get("connection") is not None:
            target = registry.get(str(changes["connection"]))
            mirror = registry.ensure_mirror(Ref.id(target.id))

        def revise(old: CheckDefinition) -> CheckDefinition:
            new = old
            if "table" in changes:
                schema, table_name = _split_table(str(changes["table"]))
                new = replace(new, target_schema=schema, target_table=table_name)
            if "description" in changes:
                new = replace(new, description=changes["description"] or None)
            if "check_type" in changes:
                new = replace(new, check_type=str(changes["check_type"]))
            if "column" in changes:
                new = replace(new, target_column=changes["column"] or None)
            if "config" in changes:
                new = replace(new, config=dict(changes["config"] or {}))
            if "severity" in changes:
                new = replace(new, severity=_severity(changes["severity"]))
            if "tags" in changes:
                new = replace(new, tags=self._tags(changes["tags"] or ()))
            if "enabled" in changes:
                new = replace(new, enabled=bool(changes["enabled"]))
            if "cron" in changes:
                new = replace(new, cron_expression=changes["cron"] or None)
            if changes.get("timezone"):
                new = replace(new, timezone=changes["timezone"])
            new = replace(
                new,
                timezone=(new.timezone or "UTC") if new.cron_expression else None,
            )
            if target is not None and mirror is not None:
                new = replace(new, connection_id=mirror, connection_name=target.name)
            connection = target or registry.get(registry_ref(new.connection_id))
            return self._validated(new, connection, now)

        return self.store.update_check(ref, revise)

    def get_check(self, ref: str) -> CheckDefinition:
        """The check ``ref`` (a name or id) names (raises CheckNotFound)."""
        return self.store.get_check(ref)

    def list_checks(
        self,
        *,
        table: str | None = None,
        connection: str | None = None,
        tag: str | None = None,
        enabled: bool | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[CheckDefinition]:
        """The workspace's checks, by name; ``after`` a name (a cursor)."""
        return self.store.list_checks(
            table=table, connection=connection, tag=tag, enabled=enabled, after=after, limit=limit
        )

    def set_enabled(self, ref: str, enabled: bool) -> CheckDefinition:
        """Enable or disable a check (disabling cancels its queued jobs)."""
        return self.store.update_check(ref, lambda old: replace(old, enabled=enabled))

    def remove_check(self, ref: str) -> CheckDefinition:
        """Delete a check with its results, incidents, schedule and jobs."""
        return self.store.remove_check(ref)

    # ---------------------------------------------------------------- running

    def run_checks(
        self,
        refs: Sequence[str] = (),
        *,
        table: str | None = None,
        connection: str | None = None,
        all_checks: bool = False,
        triggered_by: str = "cli",
    ) -> list[CheckOutcome]:
        """Run checks now, in this process: one scan per table; each result recorded.

        Named checks run even when disabled; ``table``/``connection``/``all_checks``
        choose among the enabled ones.

        Raises:
            InvalidInput: If nothing chooses checks.
            CheckNotFound: If a named check does not exist.
        """
        if not refs and table is None and connection is None and not all_checks:
            raise InvalidInput("name the checks to run, or give --table, --connection or --all")
        chosen: dict[uuid.UUID, CheckDefinition] = {}
        for ref in refs:
            check = self.store.get_check(ref)
            chosen[check.id] = check
        if table is not None or connection is not None or all_checks:
            for check in self.store.list_checks(table=table, connection=connection, enabled=True):
                chosen.setdefault(check.id, check)
        return self.runner.run(list(chosen.values()))

    # ------------------------------------------------------------------- jobs

    def queue_job(self, ref: str, *, triggered_by: str = "api") -> Job:
        """Queue a run of the check for a worker (``spine worker``).

        Raises:
            CheckNotFound: If there is no such check.
            InvalidInput: If the check is disabled, or ``triggered_by`` is unknown.
        """
        if triggered_by not in _TRIGGERS:
            raise InvalidInput(f"unknown trigger {triggered_by!r}: one of {', '.join(_TRIGGERS)}")
        check = self.store.get_check(ref)
        if not check.enabled:
            raise InvalidInput(f"check {check.name!r} is disabled: enable it to run it")
        return self.store.queue_job(check, triggered_by=triggered_by)

    def get_job(self, job_id: str) -> Job:
        """The workspace's job (raises JobNotFound)."""
        return self.store.get_job(job_id)

    def list_jobs(
        self,
        *,
        status: str | None = None,
        check: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """The workspace's jobs, newest first; ``after`` a job id (a cursor)."""
        if status is not None and status not in {s.value for s in JobStatus}:
            statuses = ", ".join(s.value for s in JobStatus)
            raise InvalidInput(f"unknown job status {status!r}: one of {statuses}")
        check_id = self.store.get_check(check).id if check is not None else None
        after_id = None
        if after is not None:
            after_id = self.store.get_job(after).id
        return self.store.list_jobs(status=status, check_id=check_id, after=after_id, limit=limit)

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a queued job (raises Conflict when it is not queued)."""
        return self.store.cancel_job(job_id)

    # ---------------------------------------------------------------- results

    def results(
        self,
        ref: str,
        *,
        since: datetime | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[CheckResult]:
        """The check's results, newest first."""
        if limit < 1:
            raise InvalidInput("limit must be at least 1")
        check = self.store.get_check(ref)
        return self.store.results(check.id, since=since, limit=limit, before_id=before_id)

    def latest_result(self, ref: str) -> CheckResult | None:
        """The check's most recent result, if it ran."""
        found = self.results(ref, limit=1)
        return found[0] if found else None

    # -------------------------------------------------------------- incidents

    def list_incidents(
        self,
        *,
        status: str | None = None,
        check: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[Incident]:
        """Incidents: open/acknowledged first, by severity then newest first."""
        if status is not None and status not in {s.value for s in IncidentStatus}:
            raise InvalidInput(
                f"unknown incident status {status!r}: expected open, acknowledged or resolved"
            )
        check_id = self.store.get_check(check).id if check is not None else None
        after_id = self.store.get_incident(after).id if after is not None else None
        return self.store.incidents(status=status, check_id=check_id, after=after_id, limit=limit)

    def get_incident(self, incident_id: str) -> Incident:
        """The workspace's incident (raises IncidentNotFound)."""
        return self.store.get_incident(incident_id)

    def open_incident(self, ref: str) -> Incident | None:
        """The check's open or acknowledged incident."""
        return self.store.open_incident(self.store.get_check(ref).id)

    def acknowledge(self, incident_id: str, *, by: str, notes: str | None = None) -> Incident:
        """Acknowledge an incident (``incident.acknowledged`` is sent; audited).

        Raises:
            InvalidInput: If ``by`` is empty.
            IncidentNotFound: If there is no such incident.
            Conflict: If it is resolved.
        """
        who = (by or "").strip()
        if not who:
            raise InvalidInput("say who acknowledges: --by NAME")
        check_text(who, "by")
        check_text(notes, "notes")
        return self.store.change_incident(
            incident_id, lambda old, at: acknowledge(old, by=who, notes=notes, at=at)
        )

    def resolve(
        self, incident_id: str, *, notes: str | None = None, by: str | None = None
    ) -> Incident:
        """Resolve an incident by hand (``incident.resolved`` is sent; audited).

        Raises:
            IncidentNotFound: If there is no such incident.
            Conflict: If it is resolved already.
        """
        check_text(notes, "notes")
        check_text(by, "by")
        return self.store.change_incident(
            incident_id, lambda old, at: resolve(old, notes=notes, by=by, at=at)
        )

    # -------------------------------------------------------------- dashboard

    def check_rows(
        self, *, days: int = 30, status: str | None = None, **filters: Any
    ) -> list[CheckRow]:
        """Checks, their latest result, daily pass rates (``checks_with_latest``'s filters)."""
        if status is not None and status not in LATEST_STATUSES:
            raise InvalidInput(f"unknown status {status!r}: expected {', '.join(LATEST_STATUSES)}")
        since = day_start(self.clock.now(), days)
        return self.store.check_rows(since=since, status=status, **filters)

    def table_pass_rates(self, *, days: int = 30) -> list[TablePassRate]:
        """The pass rate of every watched table (connection and table) over ``days``."""
        return self.store.table_pass_rates(since=day_start(self.clock.now(), days))

    def incident_board(self, *, resolved_limit: int = 20) -> tuple[list[Incident], list[Incident]]:
        """Unresolved incidents (worst, then newest first) and the latest resolved ones."""
        return self.store.incident_board(resolved_limit=resolved_limit)

    # ---------------------------------------------------------------- summary

    def summary(self) -> QualitySummary:
        """Spec 004's four useful queries for the workspace."""
        return QualitySummary(**self.store.summary())


#: ``(cron, zone, after) -> next fire``: what bootstrap injects (scheduling's cron rules).
NextFireFn = Callable[[str, str, datetime], datetime]
