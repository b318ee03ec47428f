"""Compile-only dialects, and the statements a table's checks compile to without a database.

SQL Server's dialect ships with SQLAlchemy; Snowflake, BigQuery, Redshift and Databricks
need drivers spine does not install (docs/decisions.md says why), so each gets a small
dialect here that names it and quotes identifiers its way. They compile, they never
connect: tests assert the dialect-specific pieces (regex, percentiles, stddev, length).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.sql import compiler

from spine.quality.models import CheckDefinition, CheckResult
from spine.quality.sql.measure import plan_checks
from spine.quality.sql.scan import table_clause


class _BacktickPreparer(compiler.IdentifierPreparer):
    def __init__(
        self,
        dialect: sa.Dialect,
        initial_quote: str = "`",
        final_quote: str | None = None,
        escape_quote: str = "`",
        quote_case_sensitive_collations: bool = True,
        omit_schema: bool = False,
    ) -> None:
        super().__init__(
            dialect,
            initial_quote,
            final_quote,
            escape_quote,
            quote_case_sensitive_collations,
            omit_schema,
        )


class SnowflakeDialect(DefaultDialect):
    """Snowflake, for compiling only (double-quoted identifiers, ``qmark`` values)."""

    name = "snowflake"
    supports_native_boolean = True
    supports_statement_cache = True


class BigQueryDialect(DefaultDialect):
    """BigQuery (GoogleSQL), for compiling only (backquoted identifiers)."""

    name = "bigquery"
    preparer = _BacktickPreparer
    supports_native_boolean = True
    supports_statement_cache = True


class DatabricksDialect(DefaultDialect):
    """Databricks SQL (Spark), for compiling only (backquoted identifiers)."""

    name = "databricks"
    preparer = _BacktickPreparer
    supports_native_boolean = True
    supports_statement_cache = True


class RedshiftDialect(PGDialect):
    """Amazon Redshift, for compiling only: PostgreSQL's SQL with Redshift's name."""

    name = "redshift"
    supports_statement_cache = True


def offline_dialect(name: str) -> sa.Dialect:
    """A dialect to compile for: mssql, snowflake, bigquery, redshift or databricks.

    Raises:
        KeyError: For another name.
    """
    factories: dict[str, Any] = {
        "mssql": mssql.dialect,
        "snowflake": SnowflakeDialect,
        "bigquery": BigQueryDialect,
        "redshift": RedshiftDialect,
        "databricks": DatabricksDialect,
    }
    dialect: sa.Dialect = factories[name]()
    return dialect


class _Recorder:
    """Stands in for a database: records each statement, answers with ones."""

    def __init__(self) -> None:
        self.statements: list[sa.Executable] = []

    def run(self, statement: sa.Executable) -> list[Any]:
        self.statements.append(statement)
        return [(1, 1)]

    def columns(self) -> dict[str, str]:
        return {}


def compile_checks(
    checks: Sequence[CheckDefinition],
    dialect: sa.Dialect,
    *,
    now: datetime,
    previous: Mapping[uuid.UUID, CheckResult | None] | None = None,
) -> list[str]:
    """The SQL a table's checks run on ``dialect``, with the values written in.

    The shared scan comes first, then each separate statement.

    Raises:
        ValueError: If a check's config is invalid (the text says which).
    """
    plan = plan_checks(checks, dialect.name, previous or {}, now)
    if plan.errors:
        raise ValueError("; ".join(plan.errors.values()))
    first = checks[0]
    table = table_clause(first.target_table, first.target_schema)
    compiled: list[str] = []
    options = {"literal_binds": True}
    if plan.scan.expressions:
        scan = plan.scan.statement(table, plan.where)
        compiled.append(str(scan.compile(dialect=dialect, compile_kwargs=options)))
    ones = dict.fromkeys(plan.scan.labels.values(), 1)
    for check in checks:
        recorder = _Recorder()
        plan.finishes[check.id](ones, recorder)
        for statement in recorder.statements:
            sql = statement.compile(dialect=dialect, compile_kwargs=options)  # type: ignore[attr-defined]
            compiled.append(str(sql))
    return compiled
