"""The executor: runs one rule's actions for one change and records the execution.

Actions are grouped by ``execution_order``; groups run in sequence, the actions of one
group at the same time (threads). Each action's config is its template's default merged
under its own, rendered against the change in the sandbox; the handler then does its
work inside :func:`~spine.automation.store.results.run_once`, under the key
``"{rule id}:{change position}:{action id}"``, so that a change handled again (a replay,
a restart after a kill, a second dispatcher) never does an action twice. A failing action
is recorded and does not stop the others. An outage of the database is not a failure of
the action: it is raised, and the dispatcher handles the change again when the database
is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from typing import Any

from spine.automation import templating
from spine.automation.models import (
    ActionContext,
    ActionHandler,
    ActionOutcome,
    ActionStatus,
    ActionTemplate,
    ActionType,
    Change,
    Execution,
    ExecutionStatus,
    Rule,
    RuleAction,
)
from spine.automation.store.executions import ExecutionStore, finish_on, open_on, trigger_data
from spine.automation.store.results import once_on, run_once
from spine.core.clock import Clock
from spine.core.errors import SpineError
from spine.core.storage import Database
from spine.core.storage.outage import is_outage

__all__ = ["Executor", "action_key"]

log = logging.getLogger(__name__)

_ERROR_CHARS = 1_000


def action_key(rule: Rule, change: Change, action: RuleAction) -> str:
    """The idempotency key an action's result is kept under for one change."""
    return f"{rule.id}:{change.position}:{action.id}"


class Executor:
    """Runs rules' actions and records their executions.

    Args:
        database: Spine's database (the actions' transactions).
        clock: The database's clock.
        handlers: The handler of each action type.
        executions: Where executions are recorded (the dispatcher's, system).
        max_parallel: Most actions of one group run at once.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        handlers: Mapping[ActionType, ActionHandler],
        executions: ExecutionStore,
        *,
        max_parallel: int = 8,
    ) -> None:
        self.database = database
        self.clock = clock
        self.handlers = handlers
        self.executions = executions
        self.max_parallel = max(1, max_parallel)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def close(self) -> None:
        """Stop the threads that run parallel actions (a later execution makes new ones)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def execute(
        self, rule: Rule, change: Change, templates: Mapping[Any, ActionTemplate]
    ) -> Execution:
        """Run ``rule``'s active actions for ``change``; record and return the execution.

        Args:
            rule: The rule, its actions ordered by ``execution_order``.
            change: The change it answers.
            templates: Action templates by id (those the actions name).

        Raises:
            Exception: An outage of the database (the change is to be handled again);
                every other error of an action is recorded as its failure.
        """
        started = time.monotonic()
        now = self.clock.now()
        execution_id = self.executions.begin(rule, change, at=now)
        active = sorted((a for a in rule.actions if a.is_active), key=lambda a: a.execution_order)
        outcomes: list[ActionOutcome] = []
        for _order, group in groupby(active, key=lambda a: a.execution_order):
            actions = list(group)
            outcomes.extend(self._run_group(rule, change, actions, templates, execution_id))
        status = _status(outcomes)
        failures = [f"{o.name}: {o.error}" for o in outcomes if o.status is ActionStatus.FAILED]
        error = "; ".join(failures) if failures else None
        elapsed_ms = int((time.monotonic() - started) * 1000)
        finished_at = self.clock.now()
        items = tuple(o.to_dict() for o in outcomes)
        self.executions.finish(
            execution_id,
            status=status,
            actions=items,
            error=error,
            elapsed_ms=elapsed_ms,
            at=finished_at,
        )
        return Execution(
            id=execution_id,
            workspace_id=rule.workspace_id,
            rule_id=rule.id,
            rule_name=rule.name,
            entity_type=change.table_name,
            change_position=change.position,
            trigger_data=trigger_data(change),
            actions_executed=items,
            status=status,
            error_message=error,
            execution_time_ms=elapsed_ms,
            executed_at=finished_at,
            depth=change.depth,
        )

    def _run_group(
        self,
        rule: Rule,
        change: Change,
        actions: Sequence[RuleAction],
        templates: Mapping[Any, ActionTemplate],
        execution_id: Any,
    ) -> list[ActionOutcome]:
        if len(actions) == 1:
            return [self._run_action(rule, change, actions[0], templates, execution_id)]
        pool = self._threads()
        futures = [
            pool.submit(self._run_action, rule, change, action, templates, execution_id)
            for action in actions
        ]
        # Every action of the group finishes before an outage (if any) is raised.
        results: list[ActionOutcome] = []
        outage: BaseException | None = None
        for future in futures:
            try:
                results.append(future.result())
            except Exception as error:
                outage = outage or error
        if outage is not None:
            raise outage
        return results

    def _threads(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.max_parallel, thread_name_prefix="spine-action"
                )
            return self._pool

    def _prepare(
        self,
        rule: Rule,
        change: Change,
        action: RuleAction,
        templates: Mapping[Any, ActionTemplate],
    ) -> tuple[ActionHandler, dict[str, Any]]:
        """The action's handler and its config, merged and rendered (raises if it cannot)."""
        handler = self.handlers.get(action.action_type)
        if handler is None:
            raise SpineError(f"no handler for action type {action.action_type.value!r}")
        template = templates.get(action.template_id) if action.template_id else None
        merged = templating.merge_config(
            None if template is None else template.default_config, action.config
        )
        return handler, templating.render_config(merged, templating.template_names(change, rule))

    def _execute_one(
        self,
        rule: Rule,
        change: Change,
        action: RuleAction,
        templates: Mapping[Any, ActionTemplate],
        started: float,
    ) -> Execution | None:
        """A one-action rule in one transaction: open, act, keep, finish; None if it failed.

        Most rules have one action: opening the execution, doing the action with its key
        and finishing the execution commit together (one transaction instead of three).
        When the action fails, everything rolls back and the caller records the failure
        the general way.
        """
        key = action_key(rule, change, action)
        try:
            handler, config = self._prepare(rule, change, action, templates)
        except Exception as failure:
            if is_outage(failure):
                raise
            return None

        def transaction(conn: Any) -> Execution:
            now = self.clock.now()
            execution_id = open_on(conn, rule, change, at=now)
            ctx = ActionContext(
                rule=rule,
                action=action,
                config=config,
                change=change,
                execution_id=execution_id,
                idempotency_key=key,
                now=now,
            )
            result, kept = once_on(conn, key, lambda c: handler.perform(c, ctx), at=now)
            elapsed_ms = int((time.monotonic() - started) * 1000)
            outcome = ActionOutcome(
                action_id=action.id,
                name=action.name,
                action_type=action.action_type,
                execution_order=action.execution_order,
                status=ActionStatus.ALREADY_DONE if kept else ActionStatus.SUCCESS,
                result=result,
                duration_ms=elapsed_ms,
            )
            items = (outcome.to_dict(),)
            finish_on(
                conn,
                execution_id,
                status=ExecutionStatus.SUCCESS,
                actions=items,
                error=None,
                elapsed_ms=elapsed_ms,
                at=now,
            )
            return Execution(
                id=execution_id,
                workspace_id=rule.workspace_id,
                rule_id=rule.id,
                rule_name=rule.name,
                entity_type=change.table_name,
                change_position=change.position,
                trigger_data=trigger_data(change),
                actions_executed=items,
                status=ExecutionStatus.SUCCESS,
                error_message=None,
                execution_time_ms=elapsed_ms,
                executed_at=now,
                depth=change.depth,
            )

        try:
            # Idempotent: a retry after a lost COMMIT finds the execution and the key.
            return self.database.run_write(transaction, idempotent=True)
        except Exception as failure:
            if is_outage(failure):
                raise
            return None

    def _run_action(
        self,
        rule: Rule,
        change: Change,
        action: RuleAction,
        templates: Mapping[Any, ActionTemplate],
        execution_id: Any,
    ) -> ActionOutcome:
        started = time.monotonic()
        key = action_key(rule, change, action)
        status = ActionStatus.SUCCESS
        result: Mapping[str, Any] | None = None
        error: str | None = None
        try:
            handler, config = self._prepare(rule, change, action, templates)
            ctx = ActionContext(
                rule=rule,
                action=action,
                config=config,
                change=change,
                execution_id=execution_id,
                idempotency_key=key,
                now=self.clock.now(),
            )
            result, kept = run_once(
                self.database, key, lambda conn: handler.perform(conn, ctx), at=ctx.now
            )
            if kept:
                status = ActionStatus.ALREADY_DONE
        except Exception as failure:
            if is_outage(failure):
                raise
            status = ActionStatus.FAILED
            error = _error_text(failure)
            if not isinstance(failure, SpineError):
                log.warning("action %s of rule %s failed: %s", action.name, rule.name, error)
        return ActionOutcome(
            action_id=action.id,
            name=action.name,
            action_type=action.action_type,
            execution_order=action.execution_order,
            status=status,
            result=result,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
        )


def _status(outcomes: Sequence[ActionOutcome]) -> ExecutionStatus:
    failed = sum(1 for o in outcomes if o.status is ActionStatus.FAILED)
    if failed == 0:
        return ExecutionStatus.SUCCESS
    return ExecutionStatus.FAILED if failed == len(outcomes) else ExecutionStatus.PARTIAL


def _error_text(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else ""
    if not isinstance(error, SpineError):
        line = f"{type(error).__name__}: {line}" if line else type(error).__name__
    return line[:_ERROR_CHARS]
