"""The capture triggers: each change of a watched table writes its change record.

The trigger runs in the transaction that makes the change, so the change and its
record in ``automation_changes`` commit together or not at all (an outbox kept by the
database itself).

- PostgreSQL: shared functions in schema ``workflow`` (made or replaced at each watch)
  and statement-level triggers per table over transition tables, writing
  ``to_jsonb`` of the old and new rows, the cascade depth from the transaction's
  ``spine.automation_depth`` setting, and waking the dispatcher with
  ``pg_notify('spine_automation', '')`` (a wake-up: the event itself is only ever read
  from the table). See :mod:`spine.automation.store.pg_triggers`.
- SQLite: three triggers per table (``spine_capture_<table>_insert|update|delete``)
  writing ``json_object(...)`` over the table's columns as they were when it was
  watched (watching again refreshes them), with ``created_at`` in spine's timestamp
  text format (:func:`spine.core.storage.types.format_timestamp`).

Updates that change no column write nothing on either database. Identifiers are quoted
by SQLAlchemy's identifier preparer, never formatted in bare.

Spine's own watchable tables (:data:`spine.automation.models.SPINE_TABLES`) get no
trigger: their parts record their changes themselves. Spine's other tables cannot be
watched (a trigger on the change log would feed itself).
"""

from __future__ import annotations

import sqlalchemy as sa

from spine.automation.models import SPINE_TABLES, EntityType
from spine.automation.store import pg_triggers
from spine.core.errors import InvalidInput
from spine.core.storage.schema import LEGACY_VIEWS, metadata
from spine.core.storage.schema.automation import automation_changes as changes_t

__all__ = [
    "CHANNEL",
    "FUNCTION",
    "default_schema",
    "install",
    "relation_kind",
    "remove",
    "resolve_schema",
    "spine_table",
    "table_columns",
]

#: The PostgreSQL channel the capture notifies (an empty payload: a wake-up only).
CHANNEL = pg_triggers.CHANNEL
#: The shared PostgreSQL row-level trigger function, in the change log's schema.
FUNCTION = pg_triggers.FUNCTION
_OPERATIONS = ("insert", "update", "delete", "rekey")
# SQLite's json_object takes at most 127 arguments by default (SQLITE_MAX_FUNCTION_ARG):
# wider rows are built in slices of this many columns.
_SQLITE_SLICE = 60
# Spine's created_at text: strftime's %f gives milliseconds; format_timestamp writes
# microseconds and the zone, and text order must stay time order.
_SQLITE_NOW = "strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00'"


def _spine_names() -> frozenset[str]:
    names = {table.name for table in metadata.tables.values()}
    names.update(view.name for view in LEGACY_VIEWS)
    names.add("alembic_version")
    return frozenset(names)


_SPINE_NAMES = _spine_names()


def default_schema(conn: sa.Connection) -> str | None:
    """The schema a table without one is looked up in (``None`` on SQLite)."""
    if conn.dialect.name != "postgresql":
        return None
    return str(conn.execute(sa.text("SELECT current_schema()")).scalar_one())


def spine_table(table: str) -> sa.Table | None:
    """Spine's own watchable table of that name, or ``None``."""
    if table not in SPINE_TABLES:
        return None
    return next(t for t in metadata.tables.values() if t.name == table)


def resolve_schema(conn: sa.Connection, schema: str | None) -> str | None:
    """The schema ``table`` is looked up in: PostgreSQL's current one when ``None``.

    SQLite has none (``None``; ``main`` is taken to mean it).

    Raises:
        InvalidInput: If ``schema`` names another SQLite schema.
    """
    if conn.dialect.name == "postgresql":
        return schema or default_schema(conn)
    if schema not in (None, "main"):
        raise InvalidInput(
            f"SQLite has no schema {schema!r}: watch a table of spine's own database "
            "without --schema"
        )
    return None


def _check_not_spine(conn: sa.Connection, table: str, schema: str | None) -> None:
    if table not in _SPINE_NAMES or table in SPINE_TABLES:
        return
    if conn.dialect.name == "postgresql" and schema not in (
        "workflow",
        "core",
        default_schema(conn),
    ):
        return  # a user's table that happens to share a name, in another schema
    raise InvalidInput(
        f"{table!r} is one of spine's own tables: only {', '.join(SPINE_TABLES)} can be watched"
    )


def relation_kind(conn: sa.Connection, table: str, schema: str | None) -> EntityType:
    """Whether ``table`` is a table or a view (a view is watched for scheduled rules only).

    Raises:
        InvalidInput: If it does not exist, is one of spine's tables that cannot be
            watched, or ``schema`` names a schema SQLite does not have.
    """
    schema = resolve_schema(conn, schema)
    _check_not_spine(conn, table, schema)
    if spine_table(table) is not None:
        return EntityType.TABLE
    inspector = sa.inspect(conn)
    if table in inspector.get_view_names(schema=schema):
        return EntityType.VIEW
    if not inspector.has_table(table, schema=schema):
        where = f" in schema {schema!r}" if schema else ""
        raise InvalidInput(f"no table {table!r}{where} in spine's database")
    return EntityType.TABLE


def table_columns(conn: sa.Connection, table: str, schema: str | None) -> tuple[str, ...]:
    """The columns of ``table`` now, in table order (spine's own from spine's schema).

    Raises:
        InvalidInput: If the table does not exist (or cannot be watched).
    """
    own = spine_table(table)
    if own is not None:
        return tuple(column.name for column in own.columns)
    relation_kind(conn, table, schema)
    schema = resolve_schema(conn, schema)
    return tuple(c["name"] for c in sa.inspect(conn).get_columns(table, schema=schema))


def install(conn: sa.Connection, table: str, schema: str | None) -> tuple[str, ...]:
    """Create (or refresh) the capture of ``table`` on ``conn``; return its columns.

    Spine's own watchable tables and views get no trigger (their columns are returned).

    Raises:
        InvalidInput: If the table does not exist or cannot be watched.
    """
    kind = relation_kind(conn, table, schema)
    columns = table_columns(conn, table, schema)
    if spine_table(table) is not None or kind is EntityType.VIEW:
        return columns
    schema = resolve_schema(conn, schema)
    if conn.dialect.name == "postgresql":
        pg_triggers.install(conn, table, schema)
    else:
        _sqlite_install(conn, table, columns)
    return columns


def remove(conn: sa.Connection, table: str, schema: str | None) -> None:
    """Drop the capture triggers of ``table`` on ``conn`` (nothing if it has none)."""
    if spine_table(table) is not None:
        return
    quote = conn.dialect.identifier_preparer.quote_identifier
    if conn.dialect.name == "postgresql":
        pg_triggers.remove(conn, table, schema or default_schema(conn))
        return
    for operation in _OPERATIONS:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {quote(_sqlite_trigger(table, operation))}")


# ---------------------------------------------------------------------- SQLite


def _sqlite_trigger(table: str, operation: str) -> str:
    return f"spine_capture_{table}_{operation}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sqlite_row(conn: sa.Connection, alias: str, columns: tuple[str, ...]) -> str:
    """``json_object(...)`` of ``NEW``/``OLD``; blobs become null (JSON cannot hold them)."""
    quote = conn.dialect.identifier_preparer.quote_identifier

    def value(column: str) -> str:
        ref = f"{alias}.{quote(column)}"
        # A blob would make json_object fail, and with it the user's own write.
        return f"iif(typeof({ref}) = 'blob', NULL, {ref})"

    first, rest = columns[:_SQLITE_SLICE], columns[_SQLITE_SLICE:]
    json = "json_object(" + ", ".join(f"{_literal(c)}, {value(c)}" for c in first) + ")"
    while rest:
        part, rest = rest[:_SQLITE_SLICE], rest[_SQLITE_SLICE:]
        pairs = ", ".join(f"{_literal(_json_path(c))}, {value(c)}" for c in part)
        json = f"json_insert({json}, {pairs})"
    return json


def _json_path(column: str) -> str:
    if '"' in column:
        raise InvalidInput(f'column {column!r}: a name with " cannot be captured on SQLite')
    return f'$."{column}"'


def _sqlite_install(conn: sa.Connection, table: str, columns: tuple[str, ...]) -> None:
    quote = conn.dialect.identifier_preparer.quote_identifier
    remove(conn, table, None)
    old, new = _sqlite_row(conn, "OLD", columns), _sqlite_row(conn, "NEW", columns)
    changed = " OR ".join(f"OLD.{quote(c)} IS NOT NEW.{quote(c)}" for c in columns)
    key = sa.inspect(conn).get_pk_constraint(table).get("constrained_columns") or []
    rekeyed = " OR ".join(f"OLD.{quote(c)} IS NOT NEW.{quote(c)}" for c in key)
    same_key = f"NOT ({rekeyed}) AND ({changed})" if rekeyed else changed
    values = {
        "insert": _values(table, "insert", "NULL", new),
        "delete": _values(table, "delete", old, "NULL"),
        "update": _values(table, "update", old, new),
    }
    triggers = [
        ("insert", "INSERT", "", values["insert"]),
        ("delete", "DELETE", "", values["delete"]),
        ("update", "UPDATE", f" WHEN {same_key}" if columns else "", values["update"]),
    ]
    if rekeyed:
        # A row whose key changed is another row: its delete and its insert, as on
        # PostgreSQL (pg_triggers pairs old and new rows by key).
        triggers.append(
            ("rekey", "UPDATE", f" WHEN {rekeyed}", values["delete"] + values["insert"])
        )
    for name, event, when, body in triggers:
        conn.exec_driver_sql(
            f"CREATE TRIGGER {quote(_sqlite_trigger(table, name))} "
            f"AFTER {event} ON {quote(table)} FOR EACH ROW{when} BEGIN {body} END"
        )


def _values(table: str, operation: str, old: str, new: str) -> str:
    return (
        f"INSERT INTO {changes_t.name} "
        "(table_name, schema_name, operation, old_row, new_row, depth, created_at) "
        f"VALUES ({_literal(table)}, NULL, {_literal(operation)}, {old}, {new}, 0, "
        f"{_SQLITE_NOW});"
    )
