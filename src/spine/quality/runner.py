"""Running checks: one scan per table, judged, sampled, recorded.

The checks given are grouped by :attr:`CheckDefinition.table_key` (connection, schema,
table); each group is measured by :func:`spine.quality.sql.measure` (one SELECT for the
aggregates of the table, separate statements only where one scan cannot answer), judged
by :func:`spine.quality.rules.judge` against thresholds and the check's own history,
and, for a failed row-level check, a bounded sample of offending rows is read (a LIMIT
query that stops early, never a second full aggregate scan). Each check's result is
then recorded with its incident change (and its job, for a worker) in one transaction.

A check that cannot run (its connection is gone, unreachable, times out, bad SQL) is
recorded with ``error_message`` and fails at its severity.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ulid import ULID

from spine.core.clock import Clock
from spine.core.errors import SpineError
from spine.quality.catalogue import CATALOGUE
from spine.quality.models import CheckDefinition, CheckOutcome, CheckResult, Measurement
from spine.quality.rules import HistoryPoint, judge
from spine.quality.sql import measure, sample_rows
from spine.quality.store import JobClaim, QualityStore, Recording
from spine.sources.connections import ConnectionRegistry
from spine.sources.models import Connection
from spine.sources.store import Ref

log = logging.getLogger(__name__)

#: The registered connections of a workspace (a worker serves every workspace).
RegistryFor = Callable[[uuid.UUID], ConnectionRegistry]


def registry_ref(connection_id: uuid.UUID) -> Ref:
    """The registry's reference to the connection whose mirror id is ``connection_id``.

    Spec 004's ``connections.id`` is the UUID form of the registered connection's ULID.
    """
    return Ref.id(str(ULID.from_uuid(connection_id)))


def group_by_table(
    checks: Sequence[CheckDefinition],
) -> list[list[CheckDefinition]]:
    """The checks grouped by table (connection, schema, table), in first-seen order."""
    groups: dict[tuple[uuid.UUID, str | None, str], list[CheckDefinition]] = {}
    for check in checks:
        groups.setdefault(check.table_key, []).append(check)
    return list(groups.values())


@dataclass(slots=True, kw_only=True)
class CheckRunner:
    """Measures, judges and records checks.

    Args:
        store: Where results, incidents and jobs are recorded (any workspace: the
            checks carry theirs).
        registry_for: The connection registry of a workspace.
        clock: The time a scan starts is each of its results' ``executed_at``.
        timeout_seconds: Statement timeout on users' databases.
        sample_rows: Default bound of failed-row samples (check config ``samples``
            overrides; 0 turns them off).
        history_points: Most past results an anomaly rule is trained on.
    """

    store: QualityStore
    registry_for: RegistryFor
    clock: Clock
    timeout_seconds: float = 60.0
    sample_rows: int = 10
    history_points: int = 90

    def run(
        self,
        checks: Sequence[CheckDefinition],
        *,
        jobs: Mapping[uuid.UUID, JobClaim] | None = None,
        on_lost: Callable[[CheckDefinition, SpineError], None] | None = None,
    ) -> list[CheckOutcome]:
        """Run ``checks`` (one scan per table) and record each; outcomes in input order.

        ``jobs`` maps a check id to the job a worker holds for it: that job is finished
        in the check's recording transaction. A recording refused because its claim was
        lost is passed to ``on_lost`` (else raised).
        """
        outcomes: dict[uuid.UUID, CheckOutcome] = {}
        previous = self.store.latest_results([c.id for c in checks]) if checks else {}
        for group in group_by_table(checks):
            for outcome in self._run_table(group, previous, jobs or {}, on_lost):
                outcomes[outcome.check.id] = outcome
        return [outcomes[c.id] for c in checks if c.id in outcomes]

    def _run_table(
        self,
        group: list[CheckDefinition],
        previous: Mapping[uuid.UUID, CheckResult],
        jobs: Mapping[uuid.UUID, JobClaim],
        on_lost: Callable[[CheckDefinition, SpineError], None] | None,
    ) -> list[CheckOutcome]:
        now = self.clock.now()
        first = group[0]
        connection: Connection | None = None
        engine: Any = None
        try:
            registry = self.registry_for(first.workspace_id)
            connection = registry.get(registry_ref(first.connection_id))
            engine = registry.databases.engine(connection, registry.password(connection))
        except SpineError as error:
            reason = f"connection {first.connection_name!r}: {_one_line(error)}"
            measurements = [Measurement(check_id=c.id, error=reason) for c in group]
        else:
            try:
                measurements = measure(
                    engine,
                    group,
                    previous={c.id: previous.get(c.id) for c in group},
                    now=now,
                    timeout_seconds=self.timeout_seconds,
                )
            except Exception as error:  # measure() reports per check; this is a bug guard
                log.exception("measuring %s failed", first.table_label)
                reason = _one_line(error)
                measurements = [Measurement(check_id=c.id, error=reason) for c in group]
        recs = [
            self._judge(check, measurement, now, engine, connection, jobs.get(check.id))
            for check, measurement in zip(group, measurements, strict=True)
        ]
        outcomes = []
        for rec, recorded in zip(recs, self.store.record_many(recs), strict=True):
            if isinstance(recorded, CheckOutcome):
                outcomes.append(recorded)
            elif on_lost is None:
                raise recorded
            else:
                on_lost(rec.check, recorded)
        return outcomes

    def _judge(
        self,
        check: CheckDefinition,
        measurement: Measurement,
        now: datetime,
        engine: Any,
        connection: Connection | None,
        job: JobClaim | None,
    ) -> Recording:
        history = self._history(check) if "anomaly" in check.config else []
        verdict = judge(check, measurement.sensor_value, history, error=measurement.error, now=now)
        details: dict[str, Any] = {**measurement.details, **verdict.details}
        limit = self._sample_limit(check, connection)
        if not verdict.passed and measurement.error is None and limit > 0 and engine is not None:
            try:
                details["samples"] = sample_rows(
                    engine, check, limit=limit, timeout_seconds=self.timeout_seconds
                )
            except Exception as error:  # a sample is an extra, never the check's failure
                details["samples_error"] = _one_line(error)
        elif measurement.samples is not None:
            details["samples"] = measurement.samples
        return Recording(
            check=check,
            executed_at=now,
            execution_time_ms=measurement.execution_time_ms,
            sensor_value=measurement.sensor_value,
            passed=verdict.passed,
            severity=None if verdict.passed else verdict.severity,
            error_message=measurement.error,
            details=details,
            job=job,
        )

    def _sample_limit(self, check: CheckDefinition, connection: Connection | None) -> int:
        kind = CATALOGUE.get(check.check_type)
        if kind is None or not kind.row_level:
            return 0
        if connection is not None and not connection.allow_samples:
            return 0
        wanted = check.config.get("samples", self.sample_rows)
        if isinstance(wanted, bool) or not isinstance(wanted, int):
            return self.sample_rows
        return max(0, wanted)

    def _history(self, check: CheckDefinition) -> list[HistoryPoint]:
        past = self.store.results(check.id, limit=self.history_points)
        return [p for p in (_point(r) for r in reversed(past)) if p is not None]


def _point(result: CheckResult) -> HistoryPoint | None:
    if result.sensor_value is None or result.error_message:
        return None
    anomaly = (result.details or {}).get("anomaly")
    flagged = bool(anomaly.get("flagged")) if isinstance(anomaly, dict) else False
    value: Decimal | float = result.sensor_value
    return HistoryPoint(executed_at=result.executed_at, value=value, flagged=flagged)


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
