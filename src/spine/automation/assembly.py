"""Automation's services for one actor, built from spine's database, clock and settings.

:mod:`spine.bootstrap` builds one :class:`Automation` per actor (``Services.automation``);
the CLI, the API and the worker take the pieces they need from it. Everything here is
made on first use and shares the database's pool.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from spine.config import Settings
from spine.core.clock import Clock
from spine.core.events import Listener
from spine.core.storage import Database
from spine.tenancy.models import Actor

if TYPE_CHECKING:
    from collections.abc import Mapping

    from spine.automation.capture import EntityService
    from spine.automation.dispatcher import Dispatcher
    from spine.automation.executions import ExecutionService
    from spine.automation.models import ActionHandler, ActionType
    from spine.automation.notifications import NotificationSender
    from spine.automation.people import AlertInbox
    from spine.automation.service import RuleService


class Automation:
    """Entities, rules, executions, the dispatcher and alerts for people, as ``actor``.

    Args:
        settings: Spine's settings (``automation_*``).
        database: Spine's database.
        clock: The database's clock.
        actor: Who acts, in which workspace.
        listeners: The parts' listeners (handed to the stores that publish events).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        clock: Clock,
        actor: Actor,
        listeners: tuple[Listener, ...] = (),
    ) -> None:
        self.settings = settings
        self.database = database
        self.clock = clock
        self.actor = actor
        self.listeners = listeners

    # Each helper's services are added below as cached properties (see the contract).
    @cached_property
    def _built(self) -> bool:
        return True

    @cached_property
    def entities(self) -> EntityService:
        """The workspace's watched tables (``watch``, ``unwatch``, ``entities``)."""
        from spine.automation.capture import EntityService
        from spine.automation.store.entities import EntityStore

        return EntityService(EntityStore(self.database, self.clock, actor=self.actor))

    @cached_property
    def rules(self) -> RuleService:
        """The workspace's rules and action templates (save, apply, test)."""
        from spine.automation.service import RuleService
        from spine.automation.store.rules import RuleStore

        return RuleService(
            RuleStore(self.database, self.clock, actor=self.actor),
            columns=lambda table: self.entities.columns(table),
            # Asked for when a rule is checked: reading rules builds no handler.
            handlers=lambda: self.handlers,
        )

    # ------------------------------------------------------------ actions and people

    @cached_property
    def inbox(self) -> AlertInbox:
        """Alerts for people in the actor's workspace: list, acknowledge, dismiss, decide."""
        from spine.automation.people import AlertInbox
        from spine.automation.store.alerts import AlertStore

        return AlertInbox(AlertStore(self.database, self.actor), self.clock)

    # ------------------------------------------------------------ dispatch

    @cached_property
    def executions(self) -> ExecutionService:
        """Executions of the actor's workspace, and replays of the change log."""
        from spine.automation.executions import ExecutionService
        from spine.automation.store.changes import ChangeLog
        from spine.automation.store.executions import ExecutionStore

        return ExecutionService(
            ExecutionStore(self.database, actor=self.actor), ChangeLog(self.database), self.clock
        )

    def dispatcher(self, name: str = "dispatcher") -> Dispatcher:
        """The dispatcher (system: every workspace's rules), reading cursor ``name``."""
        from spine.automation.conditions import matches
        from spine.automation.dispatcher import Dispatcher
        from spine.automation.executor import Executor
        from spine.automation.store.alerts import resolve_expired
        from spine.automation.store.executions import ExecutionStore
        from spine.automation.store.rules import RuleStore

        system = Actor(system=True)
        rules = RuleStore(self.database, self.clock, actor=system)
        executions = ExecutionStore(self.database, actor=system)
        return Dispatcher(
            self.database,
            self.clock,
            executor=Executor(self.database, self.clock, self.handlers, executions),
            executions=executions,
            rules_for=rules.active_rules_for,
            templates_for=rules.templates_by_id,
            matches=matches,
            resolve_expired=resolve_expired,
            max_depth=self.settings.automation_max_depth,
            batch_size=self.settings.automation_batch_size,
            poll_seconds=self.settings.automation_poll_seconds,
            name=name,
        )

    @cached_property
    def handlers(self) -> Mapping[ActionType, ActionHandler]:
        """One handler per action type (the executor's and the rules' validation)."""
        from spine.automation.actions.registry import build_handlers

        return build_handlers(self.database, self.clock, self.settings)

    def notification_sender(self) -> NotificationSender:
        """The loop that sends pending notification deliveries (every workspace)."""
        from spine.automation.notifications import NotificationSender

        return NotificationSender(self.database, self.clock, self.settings)
