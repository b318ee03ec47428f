"""The incident state machine (pure): a Hypothesis state machine against a plain model.

The model is the rules of docs/quality.md written the simplest way: one unresolved
incident at most, repeats move ``last_seen`` and ``failure_count``, N passes in a row
resolve, a failure within the flap window after a resolution reopens the same incident
silently, and only creations, acknowledgements and resolutions notify.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from spine.core.errors import Conflict
from spine.quality.incidents import (
    IncidentChange,
    IncidentPolicy,
    acknowledge,
    after_result,
    resolve,
)
from spine.quality.models import (
    CheckDefinition,
    Incident,
    IncidentStatus,
    QualityEvent,
    Severity,
    TargetType,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CHECK = CheckDefinition(
    id=uuid.uuid4(),
    workspace_id=uuid.uuid4(),
    connection_id=uuid.uuid4(),
    connection_name="db",
    name="c",
    check_type="row_count",
    target_type=TargetType.TABLE,
    target_table="t",
    created_at=T0,
    updated_at=T0,
)


class IncidentMachine(RuleBasedStateMachine):
    """Drives results and users' actions through the machine and checks each step."""

    def __init__(self) -> None:
        super().__init__()
        self.passes_needed = 2
        self.window = timedelta(minutes=30)
        self.policy = IncidentPolicy(auto_resolve_passes=2, flap_window=self.window)
        self.now = T0
        self.incidents: list[Incident] = []  # every incident ever made, oldest first
        self.sent: list[QualityEvent] = []
        self.fails_in_row = 0
        self.passes_in_row = 0

    @property
    def latest(self) -> Incident | None:
        return self.incidents[-1] if self.incidents else None

    def _store(self, incident: Incident | None) -> None:
        if incident is None:
            return
        if self.incidents and self.incidents[-1].id == incident.id:
            self.incidents[-1] = incident
        else:
            self.incidents.append(incident)

    @rule(minutes=st.integers(min_value=0, max_value=90))
    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(severity=st.sampled_from(list(Severity)))
    def fail(self, severity: Severity) -> None:
        before = self.latest
        transition = after_result(
            before, check=CHECK, passed=False, severity=severity, at=self.now, policy=self.policy
        )
        after = transition.incident
        assert (after is not None and after.status is IncidentStatus.OPEN) or (
            after is not None and after.status is IncidentStatus.ACKNOWLEDGED
        )
        if before is not None and before.status is not IncidentStatus.RESOLVED:
            assert transition.change is IncidentChange.UPDATED
            assert after.id == before.id
            assert after.failure_count == before.failure_count + 1
            assert after.last_seen == self.now
            assert after.severity.rank >= max(before.severity.rank, severity.rank)
        elif (
            before is not None
            and before.resolved_at is not None
            and self.now - before.resolved_at <= self.window
        ):
            assert transition.change is IncidentChange.REOPENED
            assert after.id == before.id
            assert after.reopened_count == before.reopened_count + 1
            assert after.status is IncidentStatus.OPEN
        else:
            assert transition.change is IncidentChange.CREATED
            assert before is None or after.id != before.id
            assert after.failure_count == 1 and after.first_seen == self.now
        if transition.change.event is not None:
            self.sent.append(transition.change.event)
        self._store(after)
        self.passes_in_row = 0

    @rule()
    def pass_(self) -> None:
        before = self.latest
        transition = after_result(
            before, check=CHECK, passed=True, severity=None, at=self.now, policy=self.policy
        )
        if before is None or before.status is IncidentStatus.RESOLVED:
            assert transition.change is IncidentChange.NONE
            return
        self.passes_in_row = before.consecutive_passes + 1
        after = transition.incident
        assert after is not None
        if self.passes_in_row >= self.passes_needed:
            assert transition.change is IncidentChange.RESOLVED
            assert after.status is IncidentStatus.RESOLVED and after.resolved_at == self.now
            self.sent.append(QualityEvent.INCIDENT_RESOLVED)
        else:
            assert transition.change is IncidentChange.UPDATED
            assert after.status == before.status
        self._store(after)

    @rule(by=st.sampled_from(["ana", "bo"]))
    def ack(self, by: str) -> None:
        before = self.latest
        if before is None:
            return
        if before.status is IncidentStatus.RESOLVED:
            with pytest.raises(Conflict):
                acknowledge(before, by=by, notes=None, at=self.now)
            return
        transition = acknowledge(before, by=by, notes="n", at=self.now)
        assert transition.incident is not None
        assert transition.incident.status is IncidentStatus.ACKNOWLEDGED
        assert transition.incident.acknowledged_by == by
        self.sent.append(QualityEvent.INCIDENT_ACKNOWLEDGED)
        self._store(transition.incident)

    @rule()
    def resolve_by_hand(self) -> None:
        before = self.latest
        if before is None:
            return
        if before.status is IncidentStatus.RESOLVED:
            with pytest.raises(Conflict):
                resolve(before, notes=None, by=None, at=self.now)
            return
        transition = resolve(before, notes="done", by="ana", at=self.now)
        assert transition.incident is not None
        assert transition.incident.status is IncidentStatus.RESOLVED
        self.sent.append(QualityEvent.INCIDENT_RESOLVED)
        self._store(transition.incident)

    @invariant()
    def at_most_one_unresolved(self) -> None:
        unresolved = [i for i in self.incidents if i.status is not IncidentStatus.RESOLVED]
        assert len(unresolved) <= 1
        assert all(i.status is IncidentStatus.RESOLVED for i in self.incidents[:-1])

    @invariant()
    def one_created_event_per_incident(self) -> None:
        assert self.sent.count(QualityEvent.INCIDENT_CREATED) == len(self.incidents)

    @invariant()
    def times_are_ordered(self) -> None:
        for incident in self.incidents:
            assert incident.first_seen <= incident.last_seen
            assert incident.failure_count >= 1


IncidentMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40)
TestIncidentMachine = IncidentMachine.TestCase


def test_a_flapping_check_reopens_without_a_notification() -> None:
    policy = IncidentPolicy(auto_resolve_passes=1, flap_window=timedelta(hours=1))
    opened = after_result(
        None, check=CHECK, passed=False, severity=None, at=T0, policy=policy
    ).incident
    resolved = after_result(opened, check=CHECK, passed=True, severity=None, at=T0, policy=policy)
    assert resolved.change is IncidentChange.RESOLVED
    again = after_result(
        resolved.incident,
        check=CHECK,
        passed=False,
        severity=None,
        at=T0 + timedelta(minutes=59),
        policy=policy,
    )
    assert again.change is IncidentChange.REOPENED and again.change.event is None
    assert again.incident is not None and opened is not None
    assert again.incident.id == opened.id and again.incident.reopened_count == 1
