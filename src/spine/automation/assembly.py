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

    from spine.automation.capture import EntityService
    from spine.automation.models import ActionHandler, ActionType
    from spine.automation.notifications import NotificationSender
    from spine.automation.people import AlertInbox
    from spine.automation.service import RuleService
