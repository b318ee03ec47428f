"""What a step callable receives: params, earlier outputs, a logger, and services.

The services are what a step may use: send an alert, fetch a source, spine's database.

Orchestration sits below sources and alerting in the layers, so the services are typed
by the small protocols here; :mod:`spine.bootstrap` builds a :class:`StepServices` from
the real ones and hands it to the runner. A step that uses a service its runner was not
given gets :class:`~spine.orchestration.errors.StepServiceMissing`, naming it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

from spine.core.jsonsafe import json_object
from spine.core.storage import Database
from spine.orchestration.data_interval import DataInterval, interval_of
from spine.orchestration.errors import StepServiceMissing

_log = logging.getLogger("spine.step")


class AlertSender(Protocol):
    """Records an alert and its deliveries (``spine.alerting.AlertService``)."""

    def send(
        self,
        severity: str,
        title: str,
        message: str,
        *,
        source: str,
        domain: str | None = None,
        run_id: str | None = None,
        execution_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        error_category: str | None = None,
    ) -> str:
        """Record the alert; return its id."""
        ...


class SourceFetcher(Protocol):
    """Registers and fetches sources, recording each fetch (``spine.sources.SourceService``)."""

    def add(
        self,
        name: str,
        kind: str,
        config: Mapping[str, Any],
        *,
        domain: str | None = None,
        created_by: str | None = None,
        if_absent: bool = False,
    ) -> Any:  # spine.sources.Source
        """Register a source (with ``if_absent``, keep an existing one of that name)."""
        ...

    def fetch(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        force: bool = False,
        run_id: str | None = None,
        execution_id: str | None = None,
    ) -> Any:  # spine.sources.FetchResult: sources sits above orchestration
        """Fetch source ``name``; a failed fetch is a result, not an exception."""
        ...

    @property
    def connections(self) -> Any:  # spine.sources.ConnectionRegistry
        """The workspace's registered database connections (a step may register one)."""
        ...


class QualityChecker(Protocol):
    """Runs data-quality checks and records their results (``spine.quality.QualityService``)."""

    def run_checks(
        self,
        refs: Sequence[str] = (),
        *,
        table: str | None = None,
        connection: str | None = None,
        all_checks: bool = False,
        triggered_by: str = "cli",
    ) -> list[Any]:  # spine.quality.CheckOutcome: quality sits above orchestration
        """Run the named checks, or the enabled checks of ``table``; return their outcomes."""
        ...

    @property
    def service(self) -> Any:  # spine.quality.QualityService
        """The whole quality service of the workspace (a step may declare checks)."""
        ...


class AutomationSetup(Protocol):
    """Declares automation rules in a run's workspace (``spine.automation``, above us).

    A workflow sets up the rules it ships on first use, as the FINRA example does;
    ``spine.bootstrap.Services`` of the run's workspace is one.
    """

    @property
    def automation(self) -> Any:  # spine.automation.assembly.Automation
        """The automation services of the run's workspace."""
        ...

    @property
    def tenancy(self) -> Any:  # spine.tenancy.TenancyService
        """Workspaces, users and roles (``add_role(name, actor=...)``)."""
        ...

    @property
    def actor(self) -> Any:  # spine.tenancy.Actor
        """Who acts: the system, in the run's workspace."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StepServices:
    """The services a step may use; ``None`` for one the runner was not given.

    Attributes:
        alerts: Records alerts (``ctx.send_alert``).
        sources: Fetches registered sources (``ctx.fetch``).
        database: Spine's database (``ctx.database``).
        quality: Runs data-quality checks (``spine.quality.checks_step``).
        automation: Declares automation rules (``spine.examples.finra.automation``).
        in_workspace: The services of a run's workspace (a worker serves every
            workspace: a step's alerts and fetches belong to its run's); ``None``: these.
    """

    alerts: AlertSender | None = None
    sources: SourceFetcher | None = None
    database: Database | None = None
    in_workspace: Callable[[uuid.UUID | None], StepServices] | None = None
    quality: QualityChecker | None = None
    automation: AutomationSetup | None = None

    def of_workspace(self, workspace_id: uuid.UUID | None) -> StepServices:
        """The services a step of a run in ``workspace_id`` uses."""
        return self if self.in_workspace is None else self.in_workspace(workspace_id)


_NO_SERVICES = StepServices()


@dataclass(slots=True)
class QualityReport:
    """The quality verdict an attempt records (spec 002's ``quality_passed``/``_metrics``)."""

    passed: bool | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepContext:
    """The context of one step attempt.

    Attributes:
        run_id: The workflow run's id.
        workflow_name: The workflow's name.
        step_name: This step's name (``map[3]`` for the fourth item of step ``map``).
        params: The run's parameters (for a pipeline, updated with the step's).
        outputs: Outputs of the steps completed so far, by step name (read-only).
        attempt: 1 for the first attempt, 2 for the first retry ...
        item: The item, inside a map; ``None`` elsewhere.
        item_index: The item's position, inside a map.
        partition_key: The run's partition key, if any (for a run made by a schedule,
            ``schedules trigger`` or ``backfill``: its data interval, see
            :attr:`logical_time`).
        domain: The workflow's domain, if any.
        execution_id: The attempt's ``core_executions`` id, for a pipeline step.
        services: What the step may use; reach them through :meth:`fetch`,
            :meth:`send_alert` and :attr:`database`.
        log: A logger whose records carry the run id, step name and attempt; its lines
            are kept with the attempt (see :mod:`spine.orchestration.logs`).
        quality: What :meth:`record_quality` recorded; written on the attempt's row.
    """

    run_id: str
    workflow_name: str
    step_name: str
    params: Mapping[str, Any]
    outputs: Mapping[str, Mapping[str, Any]]
    attempt: int = 1
    item: Any = None
    item_index: int | None = None
    partition_key: str | None = None
    domain: str | None = None
    execution_id: str | None = None
    services: StepServices = _NO_SERVICES
    log: logging.LoggerAdapter[logging.Logger] = field(init=False)
    quality: QualityReport = field(default_factory=QualityReport, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(
            self,
            "log",
            logging.LoggerAdapter(
                _log,
                {"run_id": self.run_id, "step_name": self.step_name, "attempt": self.attempt},
            ),
        )

    @property
    def data_interval(self) -> DataInterval | None:
        """The run's logical time and data interval, or ``None`` for a run without one.

        A run made by a schedule's fire, ``spine schedules trigger`` or ``spine
        backfill`` has one (``spine.orchestration.data_interval``); a run started by
        hand has none unless its ``--partition-key`` holds the three times.
        """
        return interval_of(self.partition_key)

    @property
    def logical_time(self) -> datetime | None:
        """The time the run is for (a fire's scheduled time), aware UTC, or ``None``."""
        interval = self.data_interval
        return interval.logical_time if interval else None

    @property
    def data_interval_start(self) -> datetime | None:
        """Start (inclusive) of the data the run covers, aware UTC, or ``None``."""
        interval = self.data_interval
        return interval.start if interval else None

    @property
    def data_interval_end(self) -> datetime | None:
        """End (exclusive) of the data the run covers, aware UTC, or ``None``."""
        interval = self.data_interval
        return interval.end if interval else None

    @property
    def idempotency_key(self) -> str:
        """The key for this step's side effects: ``"<run_id>:<step_name>"``.

        The same for every attempt of the step in this run (a retry, or an attempt run
        again after its worker died), different for another step, another map item
        (``map[3]``) or another run. Pass it to what the step changes outside spine (an
        API's ``Idempotency-Key`` header, a unique column of a table it writes), so that
        an attempt repeated after a failure does not do it twice.
        """
        return f"{self.run_id}:{self.step_name}"

    @property
    def sources(self) -> SourceFetcher:
        """The sources service (to register a source the step needs).

        Fetch through :meth:`fetch`, which links the fetch to this run.

        Raises:
            StepServiceMissing: If the runner was given no sources.
        """
        if self.services.sources is None:
            raise StepServiceMissing("sources", self.step_name, self.workflow_name)
        return self.services.sources

    @property
    def database(self) -> Database:
        """Spine's database.

        Raises:
            StepServiceMissing: If the runner was given no database.
        """
        if self.services.database is None:
            raise StepServiceMissing("database", self.step_name, self.workflow_name)
        return self.services.database

    def fetch(
        self, name: str, params: Mapping[str, Any] | None = None, *, force: bool = False
    ) -> Any:
        """Fetch the registered source ``name``; the fetch row is linked to this run.

        For a pipeline step it is linked to the attempt's execution too.

        Returns:
            The ``spine.sources.FetchResult``: a failed fetch is a result with ``error``
            and ``error_category``, not an exception.

        Raises:
            StepServiceMissing: If the runner was given no sources.
            SourceNotFound: If no source has this name.
            SourceDisabled: If the source is disabled.
        """
        return self.sources.fetch(
            name, params, force=force, run_id=self.run_id, execution_id=self.execution_id
        )

    def send_alert(
        self,
        severity: str,
        title: str,
        message: str,
        *,
        source: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        error_category: str | None = None,
    ) -> str:
        """Record an alert linked to this run, with one delivery per matching channel.

        ``source`` defaults to the workflow's name; the domain is the workflow's.

        Returns:
            The alert's id.

        Raises:
            StepServiceMissing: If the runner was given no alerts.
            InvalidInput: If the severity is unknown or title or source is empty.
        """
        if self.services.alerts is None:
            raise StepServiceMissing("alerts", self.step_name, self.workflow_name)
        return self.services.alerts.send(
            severity,
            title,
            message,
            source=source or self.workflow_name,
            domain=self.domain,
            run_id=self.run_id,
            execution_id=self.execution_id,
            metadata=metadata,
            error_category=error_category,
        )

    def record_quality(self, passed: bool, metrics: Mapping[str, Any] | None = None) -> None:
        """Record the attempt's quality verdict, as spec 002's ``StepTracker`` does.

        ``passed`` and ``metrics`` are saved in the step row's ``quality_passed`` and
        ``quality_metrics`` when the attempt ends, whether it completes or fails.

        Raises:
            InvalidInput: If a metric is a value JSON cannot hold (NaN, bytes ...),
                naming it; checked here, in the step, so the attempt fails with it.
        """
        checked = json_object(metrics or {}, "quality_metrics")
        self.quality.passed = bool(passed)
        self.quality.metrics.update(checked)
