"""Executions (spec 003 ``automation_executions``): what one rule did for one change.

There is one execution per rule and change (unique ``(automation_rules_id,
change_position)``). The executor opens it before the rule's first action
(:meth:`ExecutionStore.begin`), so that what the actions write can link to it, and
finishes it after the last (:meth:`ExecutionStore.finish`). An execution that was opened
and never finished (the dispatcher was killed) reads ``failed`` with an "interrupted"
message until the change is handled again, which updates the same row: a replay or a
restart never adds a second execution for the same rule and change.

Writes are the dispatcher's (system, every workspace); reads are the actor's workspace.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from spine.automation.errors import RuleNotFound
from spine.automation.models import (
    Change,
    Execution,
    ExecutionStatus,
    NotificationDelivery,
    Rule,
)
from spine.automation.store.deliveries import DeliveryStore
from spine.core.storage import Database
from spine.core.storage.schema.automation import automation_executions as executions_t
from spine.core.storage.schema.automation import automation_rules as rules_t
from spine.tenancy.bound import ActorBound
from spine.tenancy.models import OPERATOR, Actor

__all__ = ["INTERRUPTED", "ExecutionStore", "finish_on", "open_on", "trigger_data"]

#: What an execution opened by a dispatcher that never finished it says.
INTERRUPTED = "interrupted: the dispatcher stopped before the execution finished"
# automation_executions.entity_type is VARCHAR(50).
_ENTITY_TYPE_CHARS = 50
_ERROR_CHARS = 4_000
#: Executions newest first (an alias: ``ExecutionStore.list`` hides the builtin there).
Executions = list[Execution]
Deliveries = list[NotificationDelivery]


def trigger_data(change: Change) -> dict[str, Any]:
    """The change as an execution keeps it (``trigger_data``)."""
    return {
        "position": change.position,
        "table_name": change.table_name,
        "schema_name": change.schema_name,
        "operation": change.operation.value,
        "old": None if change.old is None else dict(change.old),
        "new": None if change.new is None else dict(change.new),
        "depth": change.depth,
    }


class ExecutionStore(ActorBound):
    """Executions on spine's database.

    Args:
        database: Spine's database.
        actor: Whose workspace the reads see.
    """

    def __init__(self, database: Database, *, actor: Actor = OPERATOR) -> None:
        self.database = database
        self.actor = actor

    # ------------------------------------------------------------- the dispatcher's

    def begin(self, rule: Rule, change: Change, *, at: datetime) -> uuid.UUID:
        """The id of the rule's execution for ``change``, opened now if it has none.

        A new execution reads ``failed`` / :data:`INTERRUPTED` until it is finished.
        """
        return self.database.run_write(
            lambda conn: open_on(conn, rule, change, at=at), idempotent=True
        )

    def finish(
        self,
        execution_id: uuid.UUID,
        *,
        status: ExecutionStatus,
        actions: tuple[Mapping[str, Any], ...],
        error: str | None,
        elapsed_ms: int,
        at: datetime,
    ) -> None:
        """Record how an opened execution ended."""
        self.database.run_write(
            lambda conn: finish_on(
                conn,
                execution_id,
                status=status,
                actions=actions,
                error=error,
                elapsed_ms=elapsed_ms,
                at=at,
            ),
            idempotent=True,
        )

    def record(
        self, rule: Rule, change: Change, *, status: ExecutionStatus, error: str, at: datetime
    ) -> uuid.UUID:
        """Record an execution that ran no action (a cascade too deep, a parent that failed).

        Upserts on the rule and change, like every execution.
        """

        def work(conn: sa.Connection) -> uuid.UUID:
            values = _values(
                rule, change, status=status, error=error, actions=(), elapsed_ms=0, at=at
            )
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            statement = insert(executions_t).values(id=uuid.uuid4(), **values)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[
                        executions_t.c.automation_rules_id,
                        executions_t.c.change_position,
                    ],
                    set_={
                        "status": statement.excluded.status,
                        "actions_executed": statement.excluded.actions_executed,
                        "error_message": statement.excluded.error_message,
                        "execution_time_ms": statement.excluded.execution_time_ms,
                        "executed_at": statement.excluded.executed_at,
                    },
                )
            )
            found: uuid.UUID = conn.execute(
                sa.select(executions_t.c.id).where(
                    executions_t.c.automation_rules_id == rule.id,
                    executions_t.c.change_position == change.position,
                )
            ).scalar_one()
            return found

        return self.database.run_write(work, idempotent=True)

    def statuses(self, position: int) -> dict[uuid.UUID, ExecutionStatus]:
        """How every rule's execution for the change at ``position`` ended, by rule id."""
        with self.database.read() as conn:
            rows = conn.execute(
                sa.select(executions_t.c.automation_rules_id, executions_t.c.status).where(
                    executions_t.c.change_position == position
                )
            )
            return {row[0]: ExecutionStatus(row[1]) for row in rows}

    # ------------------------------------------------------------- the actor's reads

    def list(
        self,
        *,
        rule_id: uuid.UUID | None = None,
        status: ExecutionStatus | None = None,
        limit: int = 50,
        after: uuid.UUID | None = None,
    ) -> list[Execution]:
        """The workspace's executions, newest first, after the one with id ``after``."""
        query = _select().where(executions_t.c.workspace_id == self.workspace_id)
        if rule_id is not None:
            query = query.where(executions_t.c.automation_rules_id == rule_id)
        if status is not None:
            query = query.where(executions_t.c.status == status.value)
        with self.database.read() as conn:
            if after is not None:
                mark = conn.execute(
                    sa.select(executions_t.c.executed_at, executions_t.c.id).where(
                        executions_t.c.id == after,
                        executions_t.c.workspace_id == self.workspace_id,
                    )
                ).first()
                if mark is None:
                    return []
                query = query.where(
                    sa.tuple_(executions_t.c.executed_at, executions_t.c.id)
                    < sa.tuple_(mark[0], mark[1])
                )
            rows = conn.execute(
                query.order_by(executions_t.c.executed_at.desc(), executions_t.c.id.desc()).limit(
                    limit
                )
            ).mappings()
            return [execution_from_row(row) for row in rows]

    def latest_by_rule(
        self, rule_ids: Sequence[uuid.UUID], *, per_rule: int
    ) -> dict[uuid.UUID, Executions]:
        """The newest ``per_rule`` executions of each of ``rule_ids``, newest first.

        One query for every rule (a page of rules with their last executions): a
        ``UNION ALL`` of one ``LIMIT``ed select per rule, each on the rule's index, so
        that a rule with a long history costs what one with a short one does.
        """
        wanted = list(dict.fromkeys(rule_ids))
        found: dict[uuid.UUID, Executions] = {rule_id: [] for rule_id in wanted}
        if not wanted or per_rule < 1:
            return found
        parts = [
            _select()
            .where(
                executions_t.c.workspace_id == self.workspace_id,
                executions_t.c.automation_rules_id == rule_id,
            )
            .order_by(executions_t.c.executed_at.desc(), executions_t.c.id.desc())
            .limit(per_rule)
            # SQLite and PostgreSQL want a LIMITed member of a UNION as a subquery.
            .subquery()
            .select()
            for rule_id in wanted
        ]
        query = parts[0] if len(parts) == 1 else sa.union_all(*parts)
        with self.database.read() as conn:
            rows = conn.execute(query).mappings().all()
        for row in rows:
            found[row["automation_rules_id"]].append(execution_from_row(row))
        for executions in found.values():
            executions.sort(key=lambda e: (e.executed_at, str(e.id)), reverse=True)
        return found

    def get(self, execution_id: uuid.UUID) -> Execution | None:
        """The workspace's execution with this id, or ``None``."""
        with self.database.read() as conn:
            row = (
                conn.execute(
                    _select().where(
                        executions_t.c.id == execution_id,
                        executions_t.c.workspace_id == self.workspace_id,
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else execution_from_row(row)

    def deliveries(self, execution_id: uuid.UUID) -> Deliveries:
        """The notification deliveries the workspace's execution ``execution_id`` made.

        Oldest first; on ``idx_notification_deliveries_execution``.
        """
        return DeliveryStore(self.database).deliveries(
            workspace_id=self.workspace_id, execution_id=execution_id
        )

    def rule_id(self, ref: str) -> uuid.UUID:
        """The id of the workspace's rule named ``ref`` (or with id ``ref``).

        Raises:
            RuleNotFound: If the workspace has no such rule.
        """
        condition = rules_t.c.name == ref
        with contextlib.suppress(ValueError):
            condition = sa.or_(condition, rules_t.c.id == uuid.UUID(ref))
        with self.database.read() as conn:
            found = conn.execute(
                sa.select(rules_t.c.id).where(
                    condition, rules_t.c.workspace_id == self.workspace_id
                )
            ).first()
        if found is None:
            raise RuleNotFound(ref)
        rule_id: uuid.UUID = found[0]
        return rule_id

    def count(self) -> int:
        """How many executions the workspace has."""
        with self.database.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        executions_t.c.workspace_id == self.workspace_id
                    )
                ).scalar_one()
            )


def open_on(conn: sa.Connection, rule: Rule, change: Change, *, at: datetime) -> uuid.UUID:
    """:meth:`ExecutionStore.begin` on ``conn``, a write transaction the caller commits."""
    values = _values(
        rule,
        change,
        status=ExecutionStatus.FAILED,
        error=INTERRUPTED,
        actions=(),
        elapsed_ms=None,
        at=at,
    )
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        insert(executions_t)
        .values(id=uuid.uuid4(), **values)
        .on_conflict_do_nothing(
            index_elements=[executions_t.c.automation_rules_id, executions_t.c.change_position]
        )
    )
    found: uuid.UUID = conn.execute(
        sa.select(executions_t.c.id).where(
            executions_t.c.automation_rules_id == rule.id,
            executions_t.c.change_position == change.position,
        )
    ).scalar_one()
    return found


def finish_on(
    conn: sa.Connection,
    execution_id: uuid.UUID,
    *,
    status: ExecutionStatus,
    actions: tuple[Mapping[str, Any], ...],
    error: str | None,
    elapsed_ms: int,
    at: datetime,
) -> None:
    """:meth:`ExecutionStore.finish` on ``conn``, a write transaction the caller commits."""
    conn.execute(
        executions_t.update()
        .where(executions_t.c.id == execution_id)
        .values(
            status=status.value,
            actions_executed=[dict(a) for a in actions],
            error_message=_bounded(error),
            execution_time_ms=elapsed_ms,
            executed_at=at,
        )
    )


def _select() -> sa.Select[Any]:
    return sa.select(executions_t, rules_t.c.name.label("rule_name")).join(
        rules_t, rules_t.c.id == executions_t.c.automation_rules_id
    )


def _values(
    rule: Rule,
    change: Change,
    *,
    status: ExecutionStatus,
    error: str | None,
    actions: tuple[Mapping[str, Any], ...],
    elapsed_ms: int | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "automation_rules_id": rule.id,
        "entity_type": change.table_name[:_ENTITY_TYPE_CHARS],
        "trigger_data": trigger_data(change),
        "actions_executed": [dict(a) for a in actions],
        "status": status.value,
        "error_message": _bounded(error),
        "execution_time_ms": elapsed_ms,
        "executed_at": at,
        "workspace_id": rule.workspace_id,
        "change_position": change.position,
        "depth": change.depth,
    }


def _bounded(text: str | None) -> str | None:
    return None if text is None else text[:_ERROR_CHARS]


def execution_from_row(row: Mapping[Any, Any]) -> Execution:
    """An :class:`Execution` from an ``automation_executions`` row joined with its rule's name."""
    actions = row["actions_executed"] or []
    return Execution(
        id=row["id"],
        workspace_id=row["workspace_id"],
        rule_id=row["automation_rules_id"],
        rule_name=row["rule_name"],
        entity_type=row["entity_type"],
        change_position=row["change_position"],
        trigger_data=dict(row["trigger_data"] or {}),
        actions_executed=tuple(dict(a) for a in actions),
        status=ExecutionStatus(row["status"]),
        error_message=row["error_message"],
        execution_time_ms=row["execution_time_ms"],
        executed_at=row["executed_at"],
        depth=int(row["depth"] or 0),
    )
