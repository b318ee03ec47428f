"""Measure the checks of one table: one shared scan, then the few statements it cannot answer.

:func:`measure` never raises for a check's own failure. The shared scan's failure is
narrowed down by running each of its checks alone, so one bad ``filter`` or ``condition``
fails only its own check. A timeout or an unreachable database fails every check it
touched, with the reason as one line.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.errors import SpineError
from spine.quality.catalogue import validate_config
from spine.quality.models import CheckDefinition, CheckResult, Measurement
from spine.quality.sql.compiler import COMPILERS, uses_scan
from spine.quality.sql.scan import Context, Finish, Scan, scope_condition, scope_key, table_clause
from spine.quality.sql.schema import read_columns
from spine.quality.sql.session import error_text, read_only


@dataclass
class _Reader:
    """Runs a check's own statements, each in its own read-only, timed unit."""

    conn: sa.Connection
    check: CheckDefinition
    timeout_seconds: float
    schema_cache: dict[str, Any]
    elapsed: float = 0.0

    def run(self, statement: sa.Executable) -> list[sa.Row[Any]]:
        started = time.perf_counter()
        try:
            with read_only(self.conn, self.timeout_seconds) as run:
                return run(statement)
        finally:
            self.elapsed += time.perf_counter() - started

    def columns(self) -> dict[str, str]:
        if "columns" not in self.schema_cache:
            started = time.perf_counter()
            try:
                with read_only(self.conn, self.timeout_seconds):
                    self.schema_cache["columns"] = read_columns(
                        self.conn, self.check.target_schema, self.check.target_table
                    )
            except Exception as error:
                self.schema_cache["columns"] = error
            finally:
                self.elapsed += time.perf_counter() - started
        found = self.schema_cache["columns"]
        if isinstance(found, Exception):
            raise found
        return dict(found)


@dataclass
class _Plan:
    scan: Scan
    where: Any
    finishes: dict[uuid.UUID, Finish] = field(default_factory=dict)
    errors: dict[uuid.UUID, str] = field(default_factory=dict)


def plan_checks(
    checks: Sequence[CheckDefinition],
    dialect: str,
    previous: Mapping[uuid.UUID, CheckResult | None],
    now: datetime,
) -> _Plan:
    """Compile ``checks`` for ``dialect``: the shared scan and each check's finish."""
    first = checks[0]
    table = table_clause(first.target_table, first.target_schema)
    scanned = [c for c in checks if c.check_type in COMPILERS and uses_scan(c, dialect)]
    shared = {scope_key(c) for c in scanned}
    wrap = len(shared) > 1
    where = None
    if scanned and not wrap:
        where = scope_condition(scanned[0], dialect, now)
    plan = _Plan(scan=Scan(), where=where)
    for check in checks:
        try:
            validate_config(check.check_type, check.target_column, check.config)
            context = Context(
                check=check,
                dialect=dialect,
                table=table,
                scan=plan.scan,
                scope=scope_condition(check, dialect, now),
                wrap=wrap,
                now=now,
                previous=previous.get(check.id),
            )
            plan.finishes[check.id] = COMPILERS[check.check_type](context)
        except (SpineError, ValueError, KeyError, TypeError) as error:
            plan.errors[check.id] = str(error)
    return plan


def measure(
    engine: sa.Engine,
    checks: Sequence[CheckDefinition],
    *,
    previous: Mapping[uuid.UUID, CheckResult | None],
    now: datetime,
    timeout_seconds: float,
) -> list[Measurement]:
    """Measure the checks of ONE table (same connection, schema and table).

    Checks of other tables given by mistake are measured too, in a scan of their own.

    Returns:
        One :class:`Measurement` per check, in the order given. A check that could not
        run has ``error`` set (one line, no password) and no value.
    """
    tables: dict[tuple[str | None, str], list[CheckDefinition]] = {}
    for check in checks:
        tables.setdefault((check.target_schema, check.target_table), []).append(check)
    measured: dict[uuid.UUID, Measurement] = {}
    for group in tables.values():
        for result in _measure_table(engine, group, previous, now, timeout_seconds):
            measured[result.check_id] = result
    return [measured[check.id] for check in checks]


def _measure_table(
    engine: sa.Engine,
    checks: Sequence[CheckDefinition],
    previous: Mapping[uuid.UUID, CheckResult | None],
    now: datetime,
    timeout_seconds: float,
) -> list[Measurement]:
    dialect = engine.dialect.name
    plan = plan_checks(checks, dialect, previous, now)
    results: dict[uuid.UUID, Measurement] = {
        check_id: Measurement(check_id=check_id, error=error)
        for check_id, error in plan.errors.items()
    }
    try:
        with engine.connect() as conn:
            values, scan_ms, scan_errors = _scan(
                conn, engine, plan, checks, previous, now, timeout_seconds
            )
            cache: dict[str, Any] = {}
            for check in checks:
                if check.id in results:
                    continue
                if check.id in scan_errors:
                    results[check.id] = Measurement(
                        check_id=check.id, error=scan_errors[check.id], execution_time_ms=scan_ms
                    )
                    continue
                results[check.id] = _finish(
                    conn,
                    engine,
                    check,
                    plan,
                    values.get(check.id, {}),
                    scan_ms,
                    cache,
                    timeout_seconds,
                )
    except Exception as error:
        reason = error_text(error, engine)
        for check in checks:
            results.setdefault(check.id, Measurement(check_id=check.id, error=reason))
    return [results[check.id] for check in checks]


def _scan(
    conn: sa.Connection,
    engine: sa.Engine,
    plan: _Plan,
    checks: Sequence[CheckDefinition],
    previous: Mapping[uuid.UUID, CheckResult | None],
    now: datetime,
    timeout_seconds: float,
) -> tuple[dict[uuid.UUID, Mapping[str, Any]], int, dict[uuid.UUID, str]]:
    """Run the shared scan; when it fails, find the checks that broke it.

    Returns:
        The scan values each check reads, the scan's milliseconds, and the checks whose
        scan failed with the reason.
    """
    if not plan.scan.expressions:
        return {}, 0, {}
    served = [c for c in checks if c.id in plan.finishes and uses_scan(c, engine.dialect.name)]
    table = table_clause(checks[0].target_table, checks[0].target_schema)
    started = time.perf_counter()
    try:
        with read_only(conn, timeout_seconds) as run:
            row = run(plan.scan.statement(table, plan.where))[0]
        return {c.id: dict(row._mapping) for c in served}, _ms(started), {}
    except TimeoutError as error:
        return {}, _ms(started), {c.id: str(error) for c in served}
    except Exception as error:
        if len(served) == 1 or _connection_lost(error):
            return {}, _ms(started), {c.id: error_text(error, engine) for c in served}
    dialect = engine.dialect.name
    # Most broken checks are broken SQL (a typo in a filter or condition): each check's
    # own statement, under an always-false condition, finds them without reading rows.
    failures: dict[uuid.UUID, str] = {}
    for check in served:
        alone = plan_checks([check], dialect, previous, now)
        never = sa.false() if alone.where is None else sa.and_(alone.where, sa.false())
        try:
            with read_only(conn, timeout_seconds) as run:
                run(alone.scan.statement(table, never))
        except Exception as error:
            failures[check.id] = error_text(error, engine)
    rest = [c for c in served if c.id not in failures]
    if failures and rest:
        again = plan_checks(rest, dialect, previous, now)
        try:
            with read_only(conn, timeout_seconds) as run:
                row = run(again.scan.statement(table, again.where))[0]
            plan.finishes.update(again.finishes)
            return {c.id: dict(row._mapping) for c in rest}, _ms(started), failures
        except TimeoutError as error:
            return {}, _ms(started), {**failures, **{c.id: str(error) for c in rest}}
        except Exception:  # depends on the data: the loop below finds it
            pass
    # A failure that depends on the data (a cast, a division): measure each alone.
    by_check: dict[uuid.UUID, Mapping[str, Any]] = {}
    for check in rest:
        alone = plan_checks([check], dialect, previous, now)
        try:
            with read_only(conn, timeout_seconds) as run:
                row = run(alone.scan.statement(table, alone.where))[0]
            plan.finishes[check.id] = alone.finishes[check.id]
            by_check[check.id] = dict(row._mapping)
        except Exception as error:
            failures[check.id] = error_text(error, engine)
    return by_check, _ms(started), failures


def _finish(
    conn: sa.Connection,
    engine: sa.Engine,
    check: CheckDefinition,
    plan: _Plan,
    values: Mapping[str, Any],
    scan_ms: int,
    cache: dict[str, Any],
    timeout_seconds: float,
) -> Measurement:
    reader = _Reader(conn, check, timeout_seconds, cache)
    shared_ms = scan_ms if uses_scan(check, engine.dialect.name) else 0
    try:
        value, details = plan.finishes[check.id](values, reader)
    except Exception as error:
        return Measurement(
            check_id=check.id,
            error=error_text(error, engine),
            execution_time_ms=shared_ms + round(reader.elapsed * 1000),
        )
    return Measurement(
        check_id=check.id,
        sensor_value=value,
        details=details,
        execution_time_ms=shared_ms + round(reader.elapsed * 1000),
    )


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _connection_lost(error: BaseException) -> bool:
    return isinstance(error, sa.exc.DBAPIError) and bool(error.connection_invalidated)
