"""The only wiring place: builds spine's services from :class:`~spine.config.Settings`.

The CLI, the API and workers call :func:`build` once and pass the pieces down; nothing
below this module reads the environment or a global configuration.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from spine.alerting import (
    AlertService,
    AlertStore,
    FailedRunAlerts,
    ScheduleFireAlerts,
    policy_from_settings,
)
from spine.alerting.notifications import QualityNotifications
from spine.automation.listener import OwnTableChanges
from spine.config import Settings, load_settings
from spine.core.clock import Clock, SystemClock
from spine.core.events import EventType, Listener
from spine.core.log_format import configure_logging
from spine.core.storage import Database, EngineOptions, create_database
from spine.core.storage.clock import DatabaseClock
from spine.orchestration.context import StepServices
from spine.orchestration.registry import workflows
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.scheduling import Scheduler, ScheduleRunTracker, ScheduleStore
from spine.tenancy import DEFAULT_NAME, DEFAULT_WORKSPACE_ID, OPERATOR, Actor, TenancyService
from spine.tenancy.store import TenancyStore

if TYPE_CHECKING:
    from spine.automation.assembly import Automation
    from spine.automation.scheduled import RuleScheduling
    from spine.core.storage.migrator import Migrator
    from spine.core.storage.outage import DatabaseWait
    from spine.quality.jobs import CheckScheduling, JobWorker
    from spine.quality.models import CheckOutcome
    from spine.quality.service import QualityService
    from spine.quality.store import QualityStore
    from spine.sources.connections import ConnectionRegistry
    from spine.sources.models import FetchResult, Source
    from spine.sources.service import SourceService


@dataclass(slots=True, kw_only=True)
class Services:
    """What a process of spine needs, built from settings."""

    settings: Settings
    database: Database
    clock: Clock = field(default_factory=SystemClock)
    #: Every part's reactions to other parts' events (``spine.core.events``), handed to
    #: every store: a store publishes its events to those that name their type.
    listeners: tuple[Listener, ...] = ()
    #: Who acts, in which workspace: the stores these services build read and write
    #: only that workspace's objects, and audit changes as this actor. The CLI is the
    #: operator of ``--workspace``; an API request is its key (:meth:`for_actor`).
    actor: Actor = OPERATOR
    _shared: _Shared = field(default_factory=lambda: _Shared(), repr=False)

    def for_actor(self, actor: Actor) -> Services:
        """These services acting as ``actor``, sharing the database and every pool."""
        return Services(
            settings=self.settings,
            database=self.database,
            clock=self.clock,
            listeners=self.listeners,
            actor=actor,
            _shared=self._shared,
        )

    def in_workspace(self, ref: str) -> Services:
        """These services as the CLI operator of the workspace ``ref`` names.

        ``default`` is the seeded default workspace without a query; any other
        ``ref`` is an id, ``ORG/NAME`` or a ``NAME`` only one organization has.

        Raises:
            NotFound: If no workspace (or more than one) matches.
        """
        text = ref.strip()
        if text in ("", DEFAULT_NAME):
            workspace_id = DEFAULT_WORKSPACE_ID
        else:
            workspace_id = self.tenancy.workspace(text).id
        return self.for_actor(Actor(workspace_id=workspace_id))

    @property
    def tenancy(self) -> TenancyService:
        """Organizations, workspaces, users, API keys and the audit log.

        One per process: it remembers when each key's ``last_used_at`` was last written.
        """
        with self._shared.lock:
            if self._shared.tenancy is None:
                self._shared.tenancy = TenancyService(
                    TenancyStore(self.database, self.clock),
                    self.clock,
                    key_cache_seconds=self.settings.api_key_cache_seconds,
                )
            return self._shared.tenancy

    @property
    def run_listeners(self) -> tuple[Listener, ...]:
        """The listeners that react to ``run.finished``."""
        return tuple(x for x in self.listeners if EventType.RUN_FINISHED in x.event_types)

    @property
    def migrator(self) -> Migrator:
        """Schema migrations for this database."""
        # Alembic costs a sixth of a second to import; only `spine db` needs it.
        from spine.core.storage.migrator import Migrator

        return Migrator(self.database)

    @property
    def runs(self) -> RunStore:
        """Workflow runs, steps and events (spec 002's history store, extended)."""
        return RunStore(self.database, self.clock, listeners=self.listeners, actor=self.actor)

    @property
    def sources(self) -> SourceService:
        """Sources and database connections, acting as :attr:`actor` (its workspace only).

        One service is built per process: the pools of registered connections are
        shared by every fetch of the process, whatever its workspace (a workflow that
        fetches a database source each run reuses them), and closed by :meth:`close`;
        each access returns a cheap view of it bound to :attr:`actor`.
        """
        # Worker threads may fetch for the first time at once: build one service only.
        with self._shared.lock:
            if self._shared.sources is None:
                # The sources part and its fetchers are imported only by commands that fetch.
                from spine.sources.service import SourceService

                self._shared.sources = SourceService.build(
                    self.settings, self.database, self.clock, listeners=self.listeners
                )
            shared = self._shared.sources
        return shared.acting_as(self.actor)

    def step_services(self) -> StepServices:
        """What workflow steps may use: alerts, sources, checks, automation, spine's database."""
        return StepServices(
            alerts=_AlertsOnDemand(self),
            sources=_SourcesOnDemand(self),
            database=self.database,
            quality=_QualityOnDemand(self),
            # Services has what a step declaring automation rules needs (AutomationSetup).
            automation=self,
        )

    def runner(self) -> WorkflowRunner:
        """A runner over the registered workflows, with the configured lease."""
        return WorkflowRunner(
            self.runs,
            clock=self.clock,
            lease_seconds=self.settings.worker_lease_seconds,
            stop_grace_seconds=self.settings.worker_stop_grace_seconds,
            step_services=replace(
                self.step_services(),
                in_workspace=lambda ws: self.for_actor(Actor.system_in(ws)).step_services(),
            ),
        )

    def alerting(self) -> AlertService:
        """Alert channels, alerts, deliveries, dead letters and circuit breakers."""
        policy = policy_from_settings(self.settings)
        store = AlertStore(
            self.database, self.clock, policy, listeners=self.listeners, actor=self.actor
        )
        return AlertService(store, policy)

    @property
    def schedules(self) -> ScheduleStore:
        """Schedules, their fires and locks, in :attr:`actor`'s workspace.

        The scheduler's firing methods work across workspaces.
        """
        return ScheduleStore(self.database, self.clock, listeners=self.listeners, actor=self.actor)

    def scheduler(self) -> Scheduler:
        """A scheduler over the registered workflows, with the configured timings.

        It also queues the jobs of due check schedules (:meth:`check_scheduling`) and
        fires due scheduled automation rules (:meth:`rule_scheduling`).
        """
        return Scheduler(
            self.schedules,
            self.runner(),
            clock=self.clock,
            lock_seconds=self.settings.scheduler_lock_seconds,
            max_sleep_seconds=self.settings.scheduler_max_sleep_seconds,
            batch_size=self.settings.scheduler_batch_size,
            catchup_limit=self.settings.scheduler_catchup_limit,
            extra_ticks=(self.check_scheduling().tick, self.rule_scheduling().tick),
        )

    def quality_store(self) -> QualityStore:
        """Checks, results, incidents, schedules and jobs, in :attr:`actor`'s workspace."""
        from spine.quality.incidents import IncidentPolicy
        from spine.quality.store import QualityStore

        policy = IncidentPolicy(
            auto_resolve_passes=self.settings.quality_auto_resolve_passes,
            flap_window=timedelta(minutes=self.settings.quality_flap_window_minutes),
        )
        return QualityStore(
            self.database,
            self.clock,
            next_fire=next_fire,
            policy=policy,
            listeners=self.listeners,
            actor=self.actor,
        )

    @property
    def automation(self) -> Automation:
        """Automation rules, entities, executions and alerts for people, as :attr:`actor`."""
        from spine.automation.assembly import Automation

        return Automation(
            settings=self.settings,
            database=self.database,
            clock=self.clock,
            actor=self.actor,
            listeners=self.listeners,
        )

    @property
    def quality(self) -> QualityService:
        """Data-quality checks, runs, jobs, results and incidents, acting as :attr:`actor`."""
        from spine.quality.runner import CheckRunner
        from spine.quality.service import QualityService

        store = self.quality_store()
        runner = CheckRunner(
            store=store,
            registry_for=self._registry_for,
            clock=self.clock,
            timeout_seconds=self.settings.quality_statement_timeout_seconds,
            sample_rows=self.settings.quality_sample_rows,
            history_points=self.settings.quality_history_points,
        )
        return QualityService(store, runner, self._registry_for, self.clock)

    def _registry_for(self, workspace_id: Any) -> Any:
        """The registered connections of ``workspace_id`` (spine's, for another one)."""
        if workspace_id == self.actor.workspace_id:
            return self.sources.connections
        return self.for_actor(Actor.system_in(workspace_id)).sources.connections

    def check_scheduling(self) -> CheckScheduling:
        """The scheduler's hook that queues the jobs of due check schedules."""
        from spine.quality.jobs import CheckScheduling

        return CheckScheduling(self.quality_store())

    def rule_scheduling(self) -> RuleScheduling:
        """The scheduler's hook that fires due scheduled automation rules."""
        from spine.automation.scheduled import RuleScheduling
        from spine.automation.store.scheduled import ScheduledRuleStore

        return RuleScheduling(ScheduledRuleStore(self.database, self.clock))

    def check_worker(self, *, database_wait: DatabaseWait | None = None) -> JobWorker:
        """Runs queued check jobs beside ``spine worker``'s runs, sharing ``database_wait``."""
        from spine.quality.jobs import JobWorker

        system = self.for_actor(Actor.system_in(self.actor.workspace_id))
        quality = system.quality
        return JobWorker(
            quality.store,
            quality.runner,
            lease_seconds=self.settings.quality_job_lease_seconds,
            max_attempts=self.settings.quality_job_max_attempts,
            poll_seconds=self.settings.worker_poll_seconds,
            database_wait=database_wait,
        )

    def close(self) -> None:
        """Release connections (spine's database and the registered connections')."""
        with self._shared.lock:
            if self._shared.sources is not None:
                self._shared.sources.close()
                self._shared.sources = None
        self.database.dispose()


class _Shared:
    """What every :meth:`Services.for_actor` copy shares: built once per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sources: SourceService | None = None
        self.tenancy: TenancyService | None = None


class _AlertsOnDemand:
    """An :class:`AlertSender` that builds the alerting service on a step's first alert.

    Most runs send no alert; they should not pay for the delivery policy (which reads the
    secret key) and its imports.
    """

    __slots__ = ("_service", "services")

    def __init__(self, services: Services) -> None:
        self.services = services
        self._service: AlertService | None = None

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
        """Record the alert through :meth:`Services.alerting`."""
        if self._service is None:
            # A step's alert is the engine's, in the run's workspace: not audited.
            system = Actor.system_in(self.services.actor.workspace_id)
            self._service = self.services.alerting().acting_as(system)
        return self._service.send(
            severity,
            title,
            message,
            source=source,
            domain=domain,
            run_id=run_id,
            execution_id=execution_id,
            metadata=metadata,
            error_category=error_category,
        )


class _SourcesOnDemand:
    """A :class:`SourceFetcher` that builds the sources service on a step's first fetch.

    Most runs fetch nothing; they should not pay for importing the sources part.
    """

    __slots__ = ("services",)

    def __init__(self, services: Services) -> None:
        self.services = services

    def add(
        self,
        name: str,
        kind: str,
        config: Mapping[str, Any],
        *,
        domain: str | None = None,
        created_by: str | None = None,
        if_absent: bool = False,
    ) -> Source:
        """Register through :attr:`Services.sources`."""
        return self.services.sources.add(
            name, kind, config, domain=domain, created_by=created_by, if_absent=if_absent
        )

    def fetch(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        force: bool = False,
        run_id: str | None = None,
        execution_id: str | None = None,
    ) -> FetchResult:
        """Fetch through :attr:`Services.sources`."""
        return self.services.sources.fetch(
            name, params, force=force, run_id=run_id, execution_id=execution_id
        )

    @property
    def connections(self) -> ConnectionRegistry:
        """The registered connections of :attr:`Services.sources`."""
        return self.services.sources.connections


class _QualityOnDemand:
    """A :class:`QualityChecker` that builds the quality service on a step's first run."""

    __slots__ = ("services",)

    def __init__(self, services: Services) -> None:
        self.services = services

    def run_checks(
        self,
        refs: Sequence[str] = (),
        *,
        table: str | None = None,
        connection: str | None = None,
        all_checks: bool = False,
        triggered_by: str = "cli",
    ) -> list[CheckOutcome]:
        """Run through :attr:`Services.quality`."""
        return self.services.quality.run_checks(
            refs,
            table=table,
            connection=connection,
            all_checks=all_checks,
            triggered_by=triggered_by,
        )

    @property
    def service(self) -> QualityService:
        """The whole quality service of the run's workspace (to declare checks)."""
        return self.services.quality


def next_fire(cron: str, zone: str, after: datetime) -> datetime:
    """The first fire of ``cron`` in ``zone`` strictly after ``after``, in UTC.

    The workflow schedules' cron and DST rules (``spine.scheduling.cron``), handed to
    the quality part, which may not import scheduling.

    Raises:
        InvalidInput: If the cron or zone is bad, or the cron never fires.
    """
    from spine.scheduling.cron import next_fire_times

    return next_fire_times(cron, zone, after, 1)[0].astimezone(UTC)


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    host_clock: Clock | None = None,
    **overrides: Any,
) -> Services:
    """Build the services for ``settings``.

    Without ``settings``, they are read from the environment and ``spine.toml``, with
    ``overrides`` on top (``None`` ones are dropped: a command's options not given).

    Every service reads the time from one clock: the database's
    (:class:`~spine.core.storage.clock.DatabaseClock`, carried forward on ``host_clock``'s
    monotonic time), because leases, locks, due times and back-offs are stamped by one
    process and compared by another. ``clock`` replaces it whole (tests pass a
    :class:`~spine.core.clock.FrozenClock`); ``host_clock`` stands for this machine's
    clock (tests pass a skewed one to show that it changes nothing).

    Raises:
        ConfigurationError: If the database URL is malformed or its driver is missing.
    """
    if settings is None:
        settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    options = EngineOptions(
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        connect_timeout_seconds=settings.connect_timeout_seconds,
        lock_timeout_ms=settings.postgres_lock_timeout_ms,
        idle_in_transaction_timeout_ms=settings.postgres_idle_in_transaction_timeout_ms,
        checkpoint_seconds=settings.sqlite_checkpoint_seconds,
    )
    database = create_database(settings.database_url, options)
    clock = clock or DatabaseClock(database, host=host_clock or SystemClock())
    return Services(
        settings=settings, database=database, clock=clock, listeners=event_listeners(clock)
    )


def event_listeners(clock: Clock) -> tuple[Listener, ...]:
    """How the parts react to each other: every listener, for every store.

    Built from the last event of a chain back to the first: a listener that publishes
    (the run tracker publishes ``schedule.fire``, alerting's adapters ``alert.recorded``)
    is given the listeners of what it publishes. Stores get the whole tuple; each event
    reaches only the listeners that name its type.
    """
    on_alert: tuple[Listener, ...] = ()  # nothing reacts to alert.recorded yet
    on_fire: tuple[Listener, ...] = (ScheduleFireAlerts(clock, workflows, on_alert),)
    on_run: tuple[Listener, ...] = (ScheduleRunTracker(on_fire), FailedRunAlerts(clock, on_alert))
    on_source: tuple[Listener, ...] = ()  # nothing reacts to source.changed yet
    # Quality's incidents and failed checks: webhooks and incident alerts.
    on_quality: tuple[Listener, ...] = (QualityNotifications(clock, on_alert),)
    # Automation records changes of watched runs, check results and incidents.
    on_own_tables: tuple[Listener, ...] = (OwnTableChanges(clock),)
    return on_run + on_fire + on_source + on_alert + on_quality + on_own_tables
