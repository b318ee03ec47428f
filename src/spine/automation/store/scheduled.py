"""Firing scheduled rules: select the rows that match now, one change per row.

A due scheduled rule (``next_fire_at`` at or before now) is fired in one transaction:
its entity's rows that match its conditions now are selected in SQL (bounded by the
rule's ``max_rows``), one :attr:`~spine.automation.models.Operation.SCHEDULED` change
is appended per row, addressed to the rule, and ``next_fire_at`` moves to the next fire
after now (missed fires are coalesced into this one). Several schedulers may run: the
rule's row is locked (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite has one writer)
and read again as due inside the transaction, so a fire happens once.

Conditions compare in the column's type: numbers with a numeric column, booleans with
a boolean one, text otherwise (``contains`` is a case-sensitive substring on both
dialects). The rows SQL selects are checked again with :func:`conditions.matches
<spine.automation.conditions.matches>`, so a row the dispatcher would not match is
never appended.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from spine.automation.conditions import matches
from spine.automation.models import SPINE_TABLES, Change, FieldCondition, Operation, Operator, Rule
from spine.automation.specs import next_fire_at
from spine.automation.store import rule_rows
from spine.automation.store.changes import append, row_json
from spine.automation.store.rule_rows import entities_t, rules_t, trigger_types_t
from spine.core.clock import Clock
from spine.core.storage import Database
from spine.core.storage.schema import metadata

__all__ = ["Fired", "ScheduledRuleStore"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fired:
    """One fire of a scheduled rule: how many rows it selected, and its next fire."""

    rule_id: uuid.UUID
    rule: str
    rows: int
    next_fire_at: datetime


class ScheduledRuleStore:
    """Due scheduled rules of every workspace, fired one transaction each.

    Args:
        database: Spine's database.
        clock: The database's clock (what "due" means).
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def installed(self) -> bool:
        """Whether spec 003's tables exist (the intermediate tier or above)."""
        with self.database.engine.connect() as conn:
            schema = None if conn.dialect.name == "sqlite" else rules_t.schema
            return sa.inspect(conn).has_table(rules_t.name, schema=schema)

    def fire_next(self) -> Fired | None:
        """Fire the earliest due rule, if any (one transaction); ``None`` when none is due."""
        now = self.clock.now()
        return self.database.run_write(lambda conn: self._fire_next(conn, now))

    def next_due(self) -> datetime | None:
        """The earliest ``next_fire_at`` of an active scheduled rule (every workspace)."""
        query = _scheduled().with_only_columns(sa.func.min(rules_t.c.next_fire_at))
        found: datetime | None = self.database.run_read(
            lambda conn: conn.execute(query).scalar_one()
        )
        return found

    def _fire_next(self, conn: sa.Connection, now: datetime) -> Fired | None:
        query = (
            _scheduled()
            .where(rules_t.c.next_fire_at <= now)
            .order_by(rules_t.c.next_fire_at, rules_t.c.id)
            .limit(1)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=rules_t)
        rule_id = conn.execute(query).scalar_one_or_none()
        if rule_id is None:
            return None
        (rule,) = rule_rows.load_rules(conn, [rule_id])
        assert rule.schedule is not None
        schema = conn.execute(
            sa.select(entities_t.c.schema_name).where(entities_t.c.id == rule.entity_id)
        ).scalar_one_or_none()
        rows = self._select(conn, rule, schema)
        for row in rows:
            append(
                conn,
                table_name=rule.entity,
                schema_name=schema,
                operation=Operation.SCHEDULED,
                old=None,
                new=row,
                at=now,
                rule_id=rule.id,
                workspace_id=rule.workspace_id,
            )
        following = next_fire_at(rule.schedule, now)
        conn.execute(rules_t.update().where(rules_t.c.id == rule.id).values(next_fire_at=following))
        return Fired(rule_id=rule.id, rule=rule.name, rows=len(rows), next_fire_at=following)

    def _select(self, conn: sa.Connection, rule: Rule, schema: str | None) -> list[dict[str, Any]]:
        assert rule.schedule is not None
        sqlite = conn.dialect.name == "sqlite"
        try:
            table = _own_table(rule.entity)
            if table is None:
                table = sa.Table(
                    rule.entity,
                    sa.MetaData(),
                    schema=None if sqlite else schema,
                    autoload_with=conn,
                )
        except sa.exc.NoSuchTableError:
            # The table was dropped after it was watched: nothing to select; the rule
            # keeps its schedule (the table may come back).
            log.warning("scheduled rule %r: table %r does not exist", rule.name, rule.entity)
            return []
        clauses = [_clause(table, condition, sqlite) for condition in rule.conditions]
        if rule.entity in SPINE_TABLES and "workspace_id" in table.c:
            # Spine's own tables hold every workspace's rows: a rule sees its own.
            clauses.append(table.c.workspace_id == rule.workspace_id)
        order = list(table.primary_key.columns) or list(table.c)[:1]
        query = sa.select(table).where(*clauses).order_by(*order).limit(rule.schedule.max_rows)
        selected = [row_json(dict(row)) for row in conn.execute(query).mappings()]
        return [row for row in selected if matches(rule, _change(rule, row))]


def _scheduled() -> Any:
    """Active scheduled rules of active entities (what is fired and waited for)."""
    return (
        sa.select(rules_t.c.id)
        .join(entities_t, entities_t.c.id == rules_t.c.entity_id)
        .join(trigger_types_t, trigger_types_t.c.id == rules_t.c.trigger_type_id)
        .where(
            trigger_types_t.c.name == "scheduled",
            rules_t.c.is_active.is_(True),
            sa.func.coalesce(entities_t.c.is_active, True),
            rules_t.c.next_fire_at.is_not(None),
        )
    )


def _own_table(name: str) -> sa.Table | None:
    """Spine's own table ``name`` as its schema declares it (its types read back right)."""
    if name not in SPINE_TABLES:
        return None
    return next((t for t in metadata.tables.values() if t.name == name), None)


def _change(rule: Rule, row: dict[str, Any]) -> Change:
    return Change(
        position=0,
        table_name=rule.entity,
        schema_name=None,
        operation=Operation.SCHEDULED,
        old=None,
        new=row,
        rule_id=rule.id,
        workspace_id=rule.workspace_id,
    )


# -- conditions as SQL ------------------------------------------------------------------------


def _clause(table: sa.Table, condition: FieldCondition, sqlite: bool) -> sa.ColumnElement[bool]:
    column = table.c[condition.field_name]
    value = condition.value
    operator = condition.operator
    if operator is Operator.EQUALS:
        return _equals(column, value)
    if operator is Operator.NOT_EQUALS:
        return sa.or_(column.is_(None), sa.not_(_equals(column, value)))
    if operator is Operator.IN:
        options = [_equals(column, item) for item in (value or [])]
        return sa.or_(*options) if options else sa.false()
    if operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if value is None:
            return sa.false()
        left, right = _comparable(column, value)
        compared: sa.ColumnElement[bool] = (
            left > right if operator is Operator.GREATER_THAN else left < right
        )
        return compared
    if operator is Operator.CONTAINS:
        if value is None:
            return sa.false()
        text = sa.cast(column, sa.Text)
        needle = _text(value)
        found = sa.func.instr(text, needle) if sqlite else sa.func.strpos(text, needle)
        return sa.and_(column.is_not(None), found > 0)
    # changed_from / changed_to need a change: refused for scheduled rules at save.
    raise ValueError(f"{operator.value} cannot select rows")


def _equals(column: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[bool]:
    if value is None:
        return column.is_(None)
    if isinstance(column.type, sa.Boolean) and isinstance(value, bool | int | str):
        truth = _truth(value)
        if truth is not None:
            return column.is_(sa.true() if truth else sa.false())
    left, right = _comparable(column, value)
    same: sa.ColumnElement[bool] = left == right
    return same


def _comparable(column: sa.ColumnElement[Any], value: Any) -> tuple[sa.ColumnElement[Any], Any]:
    number = _number(value)
    if _numeric(column) and number is not None:
        # sqlite3 binds no Decimal: whole numbers as int, others as float.
        integral = number == number.to_integral_value()
        return column, int(number) if integral else float(number)
    text: sa.ColumnElement[Any] = sa.cast(column, sa.Text)
    return text, _text(value)


def _numeric(column: sa.ColumnElement[Any]) -> bool:
    return isinstance(column.type, sa.Integer | sa.Numeric) and not isinstance(
        column.type, sa.Boolean
    )


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            return None
        return number if number.is_finite() else None
    return None


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
