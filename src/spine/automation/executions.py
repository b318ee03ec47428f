"""Executions for people: list, show, and replay the change log from a position.

``replay --from POSITION`` moves the dispatcher's cursor back so that the changes from
``POSITION`` on are handled again: rules that did not fire then (a rule added since, a
condition fixed) fire now, and actions already done are not repeated, because each
action's result is kept under its idempotency key (``allocation_results``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spine.automation.models import Execution, ExecutionStatus, NotificationDelivery
from spine.automation.store.changes import DISPATCHER, ChangeLog
from spine.automation.store.executions import ExecutionStore
from spine.core.clock import Clock
from spine.core.errors import InvalidInput, NotFound

__all__ = ["ExecutionNotFound", "ExecutionService", "ReplayReport", "execution_to_dict"]


class ExecutionNotFound(NotFound):
    """No execution of the workspace has this id."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"unknown execution {ref!r}: `spine automation executions` lists them")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayReport:
    """What a replay did: the cursor moved from ``previous`` to before ``from_position``."""

    from_position: int
    previous_position: int
    last_position: int

    @property
    def changes(self) -> int:
        """How many changes will be handled again (or for the first time)."""
        return max(0, self.last_position - self.from_position + 1)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON (``spine automation replay --json``)."""
        return {
            "from_position": self.from_position,
            "previous_position": self.previous_position,
            "last_position": self.last_position,
            "changes": self.changes,
        }


class ExecutionService:
    """Executions of the actor's workspace, and replays.

    Args:
        store: The executions, bound to the actor.
        changes: The change log and its cursor.
        clock: The database's clock.
        cursor: The dispatcher's cursor name.
    """

    def __init__(
        self, store: ExecutionStore, changes: ChangeLog, clock: Clock, *, cursor: str = DISPATCHER
    ) -> None:
        self.store = store
        self.changes = changes
        self.clock = clock
        self.cursor = cursor

    def executions(
        self,
        rule: str | None = None,
        status: ExecutionStatus | str | None = None,
        limit: int = 50,
        after: uuid.UUID | str | None = None,
    ) -> list[Execution]:
        """The workspace's executions, newest first.

        Args:
            rule: Only this rule's (its name or id).
            status: Only executions that ended so.
            limit: Most executions returned (1 to 10,000).
            after: The id of the last execution of the previous page.

        Raises:
            RuleNotFound: If ``rule`` names no rule of the workspace.
            InvalidInput: If ``status``, ``limit`` or ``after`` is malformed.
        """
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        return self.store.list(
            rule_id=None if rule is None else self.store.rule_id(rule),
            status=None if status is None else _status(status),
            limit=limit,
            after=None if after is None else _uuid(after, "after"),
        )

    def latest_by_rule(
        self, rule_ids: Sequence[uuid.UUID], *, per_rule: int = 5
    ) -> dict[uuid.UUID, list[Execution]]:
        """The newest ``per_rule`` executions of each rule of ``rule_ids``, newest first.

        One query for all of them (the dashboard's rules page); a rule of another
        workspace, or with no execution, maps to an empty list.

        Raises:
            InvalidInput: If ``per_rule`` is not from 1 to 100, or more than 500 rules
                are asked for.
        """
        if not 1 <= per_rule <= 100:
            raise InvalidInput("per_rule must be between 1 and 100")
        if len(rule_ids) > 500:
            raise InvalidInput("ask for the executions of at most 500 rules at once")
        return self.store.latest_by_rule(rule_ids, per_rule=per_rule)

    def execution(self, execution_id: uuid.UUID | str) -> Execution:
        """One execution of the workspace.

        Raises:
            ExecutionNotFound: If the workspace has none with this id.
        """
        try:
            parsed = _uuid(execution_id, "execution id")
        except InvalidInput:
            raise ExecutionNotFound(str(execution_id)) from None
        found = self.store.get(parsed)
        if found is None:
            raise ExecutionNotFound(str(execution_id))
        return found

    def deliveries(self, execution: Execution) -> list[NotificationDelivery]:
        """The notifications ``execution``'s actions sent: each recipient's, with attempts.

        Oldest first; an execution of another workspace has none here.
        """
        return self.store.deliveries(execution.id)

    def replay(self, from_position: int) -> ReplayReport:
        """Have the dispatcher handle the changes from ``from_position`` on again.

        Raises:
            InvalidInput: If the position is below 1 or past the newest change.
        """
        last = self.changes.last_position()
        if from_position < 1:
            raise InvalidInput("--from must be a position of 1 or more")
        if from_position > last + 1:
            raise InvalidInput(
                f"--from {from_position} is past the newest change (position {last})"
            )
        previous = self.changes.position(self.cursor)
        self.changes.rewind(from_position - 1, self.clock.now(), self.cursor)
        return ReplayReport(
            from_position=from_position, previous_position=previous, last_position=last
        )


def execution_to_dict(execution: Execution) -> dict[str, Any]:
    """An execution as JSON, with spec 003's field names (CLI and API)."""
    return {
        "id": str(execution.id),
        "automation_rules_id": str(execution.rule_id),
        "rule": execution.rule_name,
        "entity_type": execution.entity_type,
        "trigger_data": dict(execution.trigger_data),
        "actions_executed": [dict(a) for a in execution.actions_executed],
        "status": execution.status.value,
        "error_message": execution.error_message,
        "execution_time_ms": execution.execution_time_ms,
        "executed_at": execution.executed_at.isoformat(),
        "change_position": execution.change_position,
        "workspace_id": str(execution.workspace_id),
        "depth": execution.depth,
    }


def _status(value: ExecutionStatus | str) -> ExecutionStatus:
    try:
        return ExecutionStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in ExecutionStatus)
        raise InvalidInput(f"unknown status {value!r}: one of {choices}") from None


def _uuid(value: uuid.UUID | str, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"{what} {value!r} is not an id") from None
