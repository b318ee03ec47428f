"""Every action type's handler, built once per process (``Automation.handlers``)."""

from __future__ import annotations

from spine.automation.actions.alerts import CreateAlert, SeekApproval
from spine.automation.actions.notify import SendEmail, SendNotification
from spine.automation.actions.update import UpdateField
from spine.automation.actions.webhook import CallWebhook
from spine.automation.actions.workflow import RunWorkflow
from spine.automation.models import ActionHandler, ActionType
from spine.config import Settings
from spine.core.clock import Clock
from spine.core.storage import Database
from spine.orchestration.workflow import WorkflowRegistry


def build_handlers(
    database: Database,
    clock: Clock,
    settings: Settings,
    *,
    registry: WorkflowRegistry | None = None,
) -> dict[ActionType, ActionHandler]:
    """One handler per :class:`ActionType`.

    Handlers write only on the connection they are given (the transaction that keeps
    their result), so they need neither ``database`` nor ``clock`` today; they are
    taken so that a handler may read settings or look things up when validating.
    """
    del database, clock, settings  # see the docstring
    handlers: list[ActionHandler] = [
        CreateAlert(),
        SendNotification(),
        SendEmail(),
        RunWorkflow(registry),
        CallWebhook(),
        UpdateField(),
        SeekApproval(),
    ]
    return {handler.action_type: handler for handler in handlers}
