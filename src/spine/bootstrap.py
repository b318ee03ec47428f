"""The only wiring place: builds spine's services from :class:`~spine.config.Settings`.

The CLI, the API and workers call :func:`build` once and pass the pieces down; nothing
below this module reads the environment or a global configuration.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spine.alerting import (
    AlertService,
    AlertStore,
    FailedRunAlerts,
    policy_from_settings,
    record_alert,
)
from spine.config import Settings, load_settings
from spine.core.clock import Clock, SystemClock
from spine.core.errors import ConfigurationError
from spine.core.storage import Database, EngineOptions, create_database
from spine.orchestration.errors import WorkflowNotFound
from spine.orchestration.registry import workflows
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunListener, RunStore
from spine.scheduling import (
    Scheduler,
    ScheduleRunHook,
    ScheduleRunOutcome,
    ScheduleRunTracker,
    ScheduleStore,
)

if TYPE_CHECKING:
    from spine.core.storage.migrator import Migrator
    from spine.sources.service import SourceService


@dataclass(slots=True, kw_only=True)
class Services:
    """What a process of spine needs, built from settings."""

    settings: Settings
    database: Database
    clock: Clock = field(default_factory=SystemClock)
    #: Called in the transaction that finishes a run: how scheduling and alerting learn
    #: of finished runs without the engine importing them (DESIGN.md "Parts").
    run_listeners: tuple[RunListener, ...] = ()
    #: Called when a fire is recorded MISSED or FAILED, in that transaction (alerting).
    schedule_hooks: tuple[ScheduleRunHook, ...] = ()

    @property
    def migrator(self) -> Migrator:
        """Schema migrations for this database."""
        # Alembic costs a sixth of a second to import; only `spine db` needs it.
        from spine.core.storage.migrator import Migrator

        return Migrator(self.database)

    @property
    def runs(self) -> RunStore:
        """Workflow runs, steps and events (spec 002's history store, extended)."""
        return RunStore(self.database, self.clock, listeners=self.run_listeners)

    @property
    def sources(self) -> SourceService:
        """Source registry, fetches, content cache and database connections."""
        from spine.sources.service import SourceService

        return SourceService.build(self.settings, self.database, self.clock)

    def runner(self) -> WorkflowRunner:
        """A runner over the registered workflows, with the configured lease."""
        return WorkflowRunner(
            self.runs, clock=self.clock, lease_seconds=self.settings.worker_lease_seconds
        )

    def alerting(self) -> AlertService:
        """Alert channels, alerts, deliveries, dead letters and circuit breakers."""
        policy = policy_from_settings(self.settings)
        return AlertService(AlertStore(self.database, self.clock, policy), policy)

    @property
    def schedules(self) -> ScheduleStore:
        """Schedules, their fires and locks."""
        return ScheduleStore(self.database, self.clock)

    def scheduler(self, hooks: Sequence[ScheduleRunHook] | None = None) -> Scheduler:
        """A scheduler over the registered workflows, with the configured timings.

        ``hooks`` default to :attr:`schedule_hooks`.
        """
        return Scheduler(
            self.schedules,
            self.runner(),
            clock=self.clock,
            hooks=self.schedule_hooks if hooks is None else hooks,
            lock_seconds=self.settings.scheduler_lock_seconds,
            max_sleep_seconds=self.settings.scheduler_max_sleep_seconds,
            batch_size=self.settings.scheduler_batch_size,
            catchup_limit=self.settings.scheduler_catchup_limit,
        )

    def close(self) -> None:
        """Release connections."""
        self.database.dispose()


class ScheduleRunAlerts:
    """A schedule hook: a fire recorded MISSED or FAILED raises a WARNING alert.

    Scheduling and alerting sit on one layer and do not import each other; this is where
    they meet. The alert is written in the transaction that records the fire. Its source
    is the schedule's name and its domain the target workflow's, so that channels route
    it like the workflow's own alerts; a FAILED run also raises its ERROR alert.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def __call__(self, conn: Any, outcome: ScheduleRunOutcome) -> None:
        """Record the WARNING alert and its deliveries on ``conn``."""
        if outcome.status not in ("MISSED", "FAILED"):
            return
        try:
            domain = workflows.get(outcome.target_name).domain
        except WorkflowNotFound:
            domain = None
        when = outcome.scheduled_at.isoformat()
        record_alert(
            conn,
            self.clock.now(),
            severity="WARNING",
            title=f"Schedule {outcome.schedule_name} {outcome.status.lower()}",
            message=outcome.reason or f"the fire of {when} was {outcome.status.lower()}",
            source=outcome.schedule_name,
            domain=domain,
            run_id=outcome.run_id,
            metadata={
                "schedule_id": outcome.schedule_id,
                "workflow": outcome.target_name,
                "scheduled_at": when,
                "status": outcome.status,
            },
        )


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> Services:
    """Build the services for ``settings`` (read from the environment when ``None``).

    Raises:
        ConfigurationError: If the database URL is malformed or its driver is missing.
    """
    settings = settings or load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    options = EngineOptions(
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        connect_timeout_seconds=settings.connect_timeout_seconds,
    )
    database = create_database(settings.database_url, options)
    clock = clock or SystemClock()
    schedule_hooks: tuple[ScheduleRunHook, ...] = (ScheduleRunAlerts(clock),)
    listeners: tuple[RunListener, ...] = (
        ScheduleRunTracker(schedule_hooks),
        FailedRunAlerts(clock),
    )
    return Services(
        settings=settings,
        database=database,
        clock=clock,
        run_listeners=listeners,
        schedule_hooks=schedule_hooks,
    )


def import_app(module: str | None) -> None:
    """Import the user's module so that its workflows and pipelines register.

    The working directory is importable, as with ``python -m``.

    Raises:
        ConfigurationError: If the module cannot be imported.
    """
    if not module:
        return
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise ConfigurationError(f"cannot import app module {module!r}: {error}") from None
    except Exception as error:  # the user's module failed while it ran
        raise ConfigurationError(
            f"app module {module!r} failed on import: {type(error).__name__}: {error}"
        ) from error
