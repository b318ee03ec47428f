"""The dispatcher: reads the change log from its durable position and runs the rules.

One pass (:meth:`Dispatcher.run_once`) numbers the changes that became visible
(:meth:`ChangeLog.sequence`), reads those after the cursor in position order, matches
each against the active rules of its table, runs the matching rules' actions through the
:class:`~spine.automation.executor.Executor` (parents before children; a child only when
its parents succeeded for the same change), and moves the cursor. A change deeper than
``max_depth`` (a cascade of actions) is recorded, not acted on. The pass also resolves
expired alerts.

:meth:`Dispatcher.run` repeats passes until stopped: as leader only (one dispatcher works
at a time, see :mod:`spine.automation.store.leader`), woken by PostgreSQL ``NOTIFY`` or
every ``poll_seconds``, waiting out database outages. Nothing depends on the leader lock
for correctness: an action's result is kept under an idempotency key and an execution is
unique per rule and change, so a change handled twice (a kill between an action and the
cursor's move, a replay, two dispatchers) never does an action twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spine.automation.executor import Executor
from spine.automation.models import ActionTemplate, Change, ExecutionStatus, Rule
from spine.automation.store.changes import DISPATCHER, ChangeLog
from spine.automation.store.cursor import move_cursor
from spine.automation.store.executions import ExecutionStore
from spine.automation.store.leader import Leadership
from spine.automation.store.wakeup import Wakeup
from spine.core.clock import Clock
from spine.core.storage import Database
from spine.core.storage.outage import DatabaseWait, is_outage

__all__ = ["DispatchReport", "Dispatcher"]

log = logging.getLogger(__name__)

# Changes that ran rules between two moves of the cursor within a pass.
_SAVE_EVERY = 16

RulesFor = Callable[[str], Sequence[Rule]]
TemplatesFor = Callable[[Iterable[uuid.UUID]], Mapping[uuid.UUID, ActionTemplate]]
Matches = Callable[[Rule, Change], bool]
ResolveExpired = Callable[[Database, datetime], int]


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchReport:
    """What one pass (or a run of passes) did.

    Attributes:
        changes: Changes read and handled.
        executions: Rule executions recorded (including those not acted on).
        failed: Executions that ended ``failed`` or ``partial``.
        too_deep: Executions recorded, not acted on, for a cascade past the limit.
        resolved_alerts: Expired alerts resolved.
        position: The cursor after the pass.
        leader: Whether this dispatcher held the leader lock (a stand-by does nothing).
    """

    changes: int = 0
    executions: int = 0
    failed: int = 0
    too_deep: int = 0
    resolved_alerts: int = 0
    position: int = 0
    leader: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON (``spine automation dispatch --json``)."""
        return {
            "changes": self.changes,
            "executions": self.executions,
            "failed": self.failed,
            "too_deep": self.too_deep,
            "resolved_alerts": self.resolved_alerts,
            "position": self.position,
            "leader": self.leader,
        }

    def plus(self, other: DispatchReport) -> DispatchReport:
        """This report and ``other`` added up (the position and leadership of ``other``)."""
        return DispatchReport(
            changes=self.changes + other.changes,
            executions=self.executions + other.executions,
            failed=self.failed + other.failed,
            too_deep=self.too_deep + other.too_deep,
            resolved_alerts=self.resolved_alerts + other.resolved_alerts,
            position=other.position,
            leader=other.leader,
        )


@dataclass(slots=True)
class _Tally:
    executions: int = 0
    failed: int = 0
    too_deep: int = 0
    rules: dict[str, Sequence[Rule]] = field(default_factory=dict)
    templates: dict[uuid.UUID, ActionTemplate] = field(default_factory=dict)


class Dispatcher:
    """Turns captured changes into rule executions.

    Args:
        database: Spine's database.
        clock: The database's clock.
        executor: Runs a rule's actions and records the execution.
        executions: The executions (system: every workspace).
        rules_for: The active rules of a table name, every workspace
            (``RuleStore.active_rules_for``).
        templates_for: Action templates by id (``RuleStore.templates_by_id``).
        matches: Whether a rule fires for a change (``conditions.matches``).
        resolve_expired: Resolves expired alerts as of a time; returns how many.
        max_depth: Deepest cascade acted on.
        batch_size: Most changes read per pass.
        poll_seconds: The idle wait between passes.
        name: The cursor (and leader lock) name.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        executor: Executor,
        executions: ExecutionStore,
        rules_for: RulesFor,
        templates_for: TemplatesFor,
        matches: Matches,
        resolve_expired: ResolveExpired | None = None,
        max_depth: int = 5,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        name: str = DISPATCHER,
    ) -> None:
        self.database = database
        self.clock = clock
        self.executor = executor
        self.executions = executions
        self.rules_for = rules_for
        self.templates_for = templates_for
        self.matches = matches
        self.resolve_expired = resolve_expired
        self.max_depth = max_depth
        self.batch_size = max(1, batch_size)
        self.poll_seconds = poll_seconds
        self.name = name
        self.log = ChangeLog(database)
        self.leadership = Leadership(database, name)
        self.database_wait = DatabaseWait(name, logger=log)
        self.stopping = threading.Event()

    # ------------------------------------------------------------------ passes

    def run_once(self) -> DispatchReport:
        """Handle the changes after the cursor (at most ``batch_size``); move the cursor.

        Does not take the leader lock: ``dispatch --once`` and tests call it directly.

        Raises:
            Exception: An outage of the database; the cursor stays before the change
                being handled, which the next pass handles again.
        """
        self.log.sequence(self.batch_size)
        position = self.log.position(self.name)
        changes = self.log.read(position, self.batch_size)
        tally = _Tally()
        moved = position
        handled = 0
        unsaved = 0
        for change in changes:
            if self.stopping.is_set():
                break
            unsaved += self._handle(change, tally)
            handled += 1
            if unsaved >= _SAVE_EVERY:
                # The cursor moves every few changes that did something, so that a restart
                # goes over few of them again (their actions are kept, but reading their
                # keys costs time), without a transaction per change.
                if not self._move(moved, change.position):
                    break
                moved, unsaved = change.position, 0
        last = changes[handled - 1].position if handled else position
        if last != moved and self._move(moved, last):
            moved = last
        resolved = 0
        if self.resolve_expired is not None:
            resolved = self.resolve_expired(self.database, self.clock.now())
        return DispatchReport(
            changes=handled,
            executions=tally.executions,
            failed=tally.failed,
            too_deep=tally.too_deep,
            resolved_alerts=resolved,
            position=moved,
        )

    def _move(self, expected: int, position: int) -> bool:
        """Move the cursor from ``expected``; False when it was moved meanwhile (a replay)."""
        if move_cursor(
            self.database, self.name, expected=expected, position=position, at=self.clock.now()
        ):
            return True
        log.info("%s: the cursor moved under this pass (a replay?): reading again", self.name)
        return False

    def drain(self) -> DispatchReport:
        """Pass until no change is left after the cursor; the passes added up."""
        total = DispatchReport(position=self.log.position(self.name))
        while not self.stopping.is_set():
            report = self.run_once()
            total = total.plus(report)
            if report.changes == 0:
                break
        return total

    def _handle(self, change: Change, tally: _Tally) -> bool:
        rules = tally.rules.get(change.table_name)
        if rules is None:
            rules = tuple(self.rules_for(change.table_name))
            tally.rules[change.table_name] = rules
        fired = [
            rule
            for rule in rules
            if rule.is_active
            and (change.workspace_id is None or change.workspace_id == rule.workspace_id)
            and self.matches(rule, change)
        ]
        if not fired:
            return False
        if change.depth > self.max_depth:
            for rule in fired:
                self.executions.record(
                    rule,
                    change,
                    status=ExecutionStatus.FAILED,
                    error=f"not acted on: cascade depth {change.depth} is past the limit "
                    f"of {self.max_depth} (automation_max_depth)",
                    at=self.clock.now(),
                )
                tally.executions += 1
                tally.failed += 1
                tally.too_deep += 1
            return True
        templates = self._templates(fired, tally)
        run = self._run(change, templates, tally)
        for rule, reason in _in_dependency_order(fired, rules, run):
            self.executions.record(
                rule,
                change,
                status=ExecutionStatus.FAILED,
                error=f"not run: {reason}",
                at=self.clock.now(),
            )
            tally.executions += 1
            tally.failed += 1
        return True

    def _run(
        self, change: Change, templates: Mapping[uuid.UUID, ActionTemplate], tally: _Tally
    ) -> Callable[[Rule], ExecutionStatus]:
        def run(rule: Rule) -> ExecutionStatus:
            execution = self.executor.execute(rule, change, templates)
            tally.executions += 1
            if execution.status is not ExecutionStatus.SUCCESS:
                tally.failed += 1
            return execution.status

        return run

    def _templates(
        self, rules: Sequence[Rule], tally: _Tally
    ) -> Mapping[uuid.UUID, ActionTemplate]:
        wanted = {
            action.template_id
            for rule in rules
            for action in rule.actions
            if action.template_id is not None and action.template_id not in tally.templates
        }
        if wanted:
            tally.templates.update(self.templates_for(wanted))
        return tally.templates

    # ------------------------------------------------------------------ the loop

    def stop(self) -> None:
        """Ask :meth:`run` to return after the change it is handling."""
        self.stopping.set()

    def run(self, stop: threading.Event | None = None) -> DispatchReport:
        """Pass until ``stop`` (or :meth:`stop`); return what the passes did.

        Only the leader works; a stand-by tries for the lock every ``poll_seconds``.
        Outages of the database are waited out (logged once when they start and once
        when they end); other errors are logged and the pass tried again later.
        """
        stop = stop or self.stopping
        wakeup = Wakeup(self.database)
        total = DispatchReport(leader=False)
        if stop is not self.stopping:
            # run_once checks :attr:`stopping` between changes: pass the caller's on.
            threading.Thread(
                target=_relay, args=(stop, self.stopping), daemon=True, name="spine-stop"
            ).start()
        try:
            while not stop.is_set():
                try:
                    if not (self.leadership.acquire() and self.leadership.check()):
                        self.database_wait.succeeded()
                        stop.wait(self.poll_seconds)
                        continue
                    report = self.run_once()
                except Exception as error:
                    if is_outage(error):
                        self.leadership.check()
                        self.database_wait.pause(error, stop)
                    else:
                        log.warning("dispatcher: %s", error, exc_info=True)
                        stop.wait(self.poll_seconds)
                    continue
                self.database_wait.succeeded()
                total = total.plus(report)
                if report.changes < self.batch_size:
                    wakeup.wait(self.poll_seconds, stop)
        finally:
            wakeup.close()
            self.leadership.release()
            self.executor.close()
            self.stopping.set()
        return total


def _relay(source: threading.Event, target: threading.Event) -> None:
    source.wait()
    target.set()


def _in_dependency_order(
    fired: Sequence[Rule],
    rules: Sequence[Rule],
    run: Callable[[Rule], ExecutionStatus],
) -> list[tuple[Rule, str]]:
    """Run ``fired`` rules parents first; return the children that may not run, and why.

    A child runs only when each of its parents fired for the same change and succeeded.
    A child whose parent did not fire (or was itself left out) is left out silently: the
    rule's chain did not match. One whose parent failed is returned with the reason, to be
    recorded, and so are its own children.
    """
    fired_ids = {rule.id for rule in fired}
    by_name = {(rule.workspace_id, rule.name): rule for rule in rules}
    status: dict[uuid.UUID, ExecutionStatus] = {}
    left_out: set[uuid.UUID] = set()
    pending = list(fired)
    blocked: list[tuple[Rule, str]] = []
    while pending:
        progress = False
        for rule in list(pending):
            parents = [by_name.get((rule.workspace_id, name)) for name in rule.depends_on]
            known = [p for p in parents if p is not None]
            if len(known) < len(parents) or any(
                p.id not in fired_ids or p.id in left_out for p in known
            ):
                pending.remove(rule)
                left_out.add(rule.id)
                progress = True
                continue
            if any(p.id not in status for p in known):
                continue  # a parent has not run yet
            pending.remove(rule)
            progress = True
            failed = [p for p in known if status[p.id] is not ExecutionStatus.SUCCESS]
            if failed:
                parent = failed[0]
                reason = (
                    f"parent rule {parent.name!r} ended {status[parent.id].value} for this change"
                )
                blocked.append((rule, reason))
                status[rule.id] = ExecutionStatus.FAILED
                continue
            status[rule.id] = run(rule)
        if not progress:  # a cycle (refused when rules are saved): run none of them
            blocked.extend((rule, "its dependencies form a cycle") for rule in pending)
            break
    return blocked
