"""The incident state machine: pure, so that it can be tested exhaustively.

A check has at most one incident that is not resolved (spec 004's unique index). Given
the check's latest incident (whatever its status) and a new result:

- a failure with no unresolved incident opens one (``incident.created``), unless the
  latest was resolved less than the flap window ago: then that incident is REOPENED
  (status open, ``reopened_count`` + 1) with no new incident and no notification, so a
  flapping check does not spam;
- a failure with an unresolved incident only moves ``last_seen`` and ``failure_count``
  (and raises its severity to the highest seen), and starts the pass count again;
- a pass counts towards auto-resolution: after ``auto_resolve_passes`` passes in a row
  the incident is resolved (``incident.resolved``);
- a user acknowledges (open → acknowledged, ``incident.acknowledged``) or resolves
  (open/acknowledged → resolved, ``incident.resolved``) by hand.

Only ``created``, ``acknowledged`` and ``resolved`` notify (docs/quality.md, "Incidents").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from spine.core.errors import Conflict
from spine.quality.models import (
    CheckDefinition,
    Incident,
    IncidentStatus,
    QualityEvent,
    Severity,
)

UNRESOLVED = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


class IncidentChange(StrEnum):
    """What a result or a user did to a check's incident."""

    NONE = "none"
    CREATED = "created"
    #: A repeat failure, or a pass that did not resolve yet.
    UPDATED = "updated"
    REOPENED = "reopened"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    @property
    def event(self) -> QualityEvent | None:
        """The notification this change sends, if any (a reopening sends none)."""
        return _EVENTS.get(self)


_EVENTS = {
    IncidentChange.CREATED: QualityEvent.INCIDENT_CREATED,
    IncidentChange.ACKNOWLEDGED: QualityEvent.INCIDENT_ACKNOWLEDGED,
    IncidentChange.RESOLVED: QualityEvent.INCIDENT_RESOLVED,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentPolicy:
    """How results move incidents.

    From the settings ``quality_auto_resolve_passes`` and ``quality_flap_window_minutes``.
    """

    auto_resolve_passes: int = 2
    flap_window: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """The incident after a change (``None``: the check has none) and what changed."""

    change: IncidentChange
    incident: Incident | None


def after_result(
    latest: Incident | None,
    *,
    check: CheckDefinition,
    passed: bool,
    severity: Severity | None,
    at: datetime,
    policy: IncidentPolicy,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> Transition:
    """The check's incident after a result recorded at ``at``.

    Args:
        latest: The check's most recent incident, of any status, or ``None``.
        check: The check (its name and table label a new incident).
        passed: Whether the result passed.
        severity: The failing severity (``check.severity`` when not given).
        at: When the result was recorded.
        policy: Auto-resolution and flap window.
        new_id: The id of a new incident.
    """
    if passed:
        return _after_pass(latest, at, policy)
    failing = severity or check.severity
    if latest is not None and latest.status in UNRESOLVED:
        repeated = replace(
            latest,
            failure_count=latest.failure_count + 1,
            last_seen=max(at, latest.last_seen),
            severity=max(latest.severity, failing, key=lambda s: s.rank),
            consecutive_passes=0,
            updated_at=at,
        )
        return Transition(change=IncidentChange.UPDATED, incident=repeated)
    if (
        latest is not None
        and latest.resolved_at is not None
        and at - latest.resolved_at <= policy.flap_window
    ):
        reopened = replace(
            latest,
            status=IncidentStatus.OPEN,
            failure_count=latest.failure_count + 1,
            last_seen=max(at, latest.last_seen),
            severity=max(latest.severity, failing, key=lambda s: s.rank),
            resolved_at=None,
            resolution_notes=None,
            consecutive_passes=0,
            reopened_count=latest.reopened_count + 1,
            updated_at=at,
        )
        return Transition(change=IncidentChange.REOPENED, incident=reopened)
    created = Incident(
        id=new_id(),
        check_id=check.id,
        check_name=check.name,
        target_table=check.target_table,
        status=IncidentStatus.OPEN,
        severity=failing,
        failure_count=1,
        first_seen=at,
        last_seen=at,
        created_at=at,
        updated_at=at,
    )
    return Transition(change=IncidentChange.CREATED, incident=created)


def _after_pass(latest: Incident | None, at: datetime, policy: IncidentPolicy) -> Transition:
    if latest is None or latest.status not in UNRESOLVED:
        return Transition(change=IncidentChange.NONE, incident=latest)
    passes = latest.consecutive_passes + 1
    if passes >= policy.auto_resolve_passes:
        resolved = replace(
            latest,
            status=IncidentStatus.RESOLVED,
            consecutive_passes=passes,
            resolved_at=at,
            resolution_notes=f"auto-resolved after {passes} consecutive passing runs",
            updated_at=at,
        )
        return Transition(change=IncidentChange.RESOLVED, incident=resolved)
    counted = replace(latest, consecutive_passes=passes, updated_at=at)
    return Transition(change=IncidentChange.UPDATED, incident=counted)


def acknowledge(incident: Incident, *, by: str, notes: str | None, at: datetime) -> Transition:
    """``incident`` acknowledged by ``by`` (again: the newer name and notes are kept).

    Raises:
        Conflict: If it is resolved.
    """
    if incident.status is IncidentStatus.RESOLVED:
        raise Conflict(f"incident {incident.id} is resolved; it cannot be acknowledged")
    acknowledged = replace(
        incident,
        status=IncidentStatus.ACKNOWLEDGED,
        acknowledged_by=by,
        acknowledged_at=at,
        resolution_notes=notes if notes is not None else incident.resolution_notes,
        updated_at=at,
    )
    return Transition(change=IncidentChange.ACKNOWLEDGED, incident=acknowledged)


def resolve(incident: Incident, *, notes: str | None, by: str | None, at: datetime) -> Transition:
    """``incident`` resolved by hand.

    Raises:
        Conflict: If it is resolved already.
    """
    if incident.status is IncidentStatus.RESOLVED:
        raise Conflict(f"incident {incident.id} is resolved already")
    resolved = replace(
        incident,
        status=IncidentStatus.RESOLVED,
        resolved_at=at,
        resolution_notes=notes,
        acknowledged_by=incident.acknowledged_by or by,
        updated_at=at,
    )
    return Transition(change=IncidentChange.RESOLVED, incident=resolved)
