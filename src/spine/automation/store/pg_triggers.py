"""PostgreSQL's capture triggers: statement-level, over transition tables.

A row-level PL/pgSQL trigger costs a function call and an insert per row (it made a bulk
update of 1,000 rows five times slower); an ``AFTER ... FOR EACH STATEMENT`` trigger
with ``REFERENCING OLD TABLE / NEW TABLE`` writes every row of the statement with one
``INSERT ... SELECT``, still in the statement's transaction. Per table:

- ``spine_capture_insert`` and ``spine_capture_delete``: the new, resp. old, rows.
- ``spine_capture_update``: old and new rows paired by the table's primary key (passed as
  the trigger's argument); an update that changed no column writes nothing; a row whose
  key changed is recorded as the delete of the old row and the insert of the new one
  (its identity changed). A table without a primary key cannot be paired that way: its
  updates are captured row by row (``spine_capture_row``, function
  ``spine_capture_change()``) and ``spine_capture_update`` only wakes the dispatcher.

Every statement ends with ``pg_notify('spine_automation', '')``: a wake-up with no
payload; the change is only ever read from the table. The cascade depth comes from the
transaction's ``spine.automation_depth`` setting (:func:`~spine.automation.store.changes.
cascade_depth`).
"""

from __future__ import annotations

import sqlalchemy as sa

from spine.core.storage.schema.automation import automation_changes as changes_t

__all__ = ["CHANNEL", "FUNCTION", "ROWS_FUNCTION", "TRIGGERS", "install", "remove"]

#: The row-level function (tables without a primary key); the statement-level one is
#: :data:`ROWS_FUNCTION`.
FUNCTION = "spine_capture_change"
ROWS_FUNCTION = "spine_capture_rows"
CHANNEL = "spine_automation"
#: Every trigger name capture may have made on a table (``spine_capture``: first drafts).
TRIGGERS = (
    "spine_capture_insert",
    "spine_capture_update",
    "spine_capture_delete",
    "spine_capture_row",
    "spine_capture",
)
# Two watches at once must not replace the functions under each other.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('spine.automation.capture'))"
_SCHEMA = changes_t.schema or "public"
_CHANGES = f"{_SCHEMA}.{changes_t.name}"
_COLUMNS = "(table_name, schema_name, operation, old_row, new_row, depth, created_at)"
_DEPTH = "coalesce(nullif(current_setting('spine.automation_depth', true), ''), '0')::integer"

# The variables are prefixed so that they never shadow a column of the insert.
_ROW_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {_SCHEMA}.{FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $spine$
DECLARE
    v_old jsonb;
    v_new jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_new := to_jsonb(NEW);
    ELSIF TG_OP = 'UPDATE' THEN
        v_old := to_jsonb(OLD);
        v_new := to_jsonb(NEW);
        IF v_old = v_new THEN
            RETURN NULL;  -- an update that changed nothing is no change
        END IF;
    ELSE
        v_old := to_jsonb(OLD);
    END IF;
    INSERT INTO {_CHANGES} {_COLUMNS}
    VALUES (TG_TABLE_NAME, TG_TABLE_SCHEMA, lower(TG_OP), v_old, v_new, {_DEPTH}, now());
    RETURN NULL;
END
$spine$
"""

# The update pairs rows by the key columns in TG_ARGV[0] (quoted identifiers, by
# SQLAlchemy's preparer); a full join keeps rows whose key changed, as delete + insert.
# Rows are taken whole as ``spine_new.*``: a bare alias would name a column of that name.
_ROWS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {_SCHEMA}.{ROWS_FUNCTION}() RETURNS trigger
LANGUAGE plpgsql AS $spine$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {_CHANGES} {_COLUMNS}
        SELECT TG_TABLE_NAME, TG_TABLE_SCHEMA, 'insert', NULL, to_jsonb(spine_new.*), {_DEPTH},
            now()
        FROM spine_new;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {_CHANGES} {_COLUMNS}
        SELECT TG_TABLE_NAME, TG_TABLE_SCHEMA, 'delete', to_jsonb(spine_old.*), NULL, {_DEPTH},
            now()
        FROM spine_old;
    ELSIF TG_NARGS > 0 THEN
        EXECUTE format(
            'INSERT INTO {_CHANGES} {_COLUMNS} '
            'SELECT $1, $2, CASE WHEN o.spine_row IS NULL THEN ''insert'' '
            'WHEN n.spine_row IS NULL THEN ''delete'' ELSE ''update'' END, '
            'o.spine_row, n.spine_row, $3, now() '
            'FROM (SELECT %1$s, to_jsonb(spine_old.*) AS spine_row FROM spine_old) o '
            'FULL JOIN (SELECT %1$s, to_jsonb(spine_new.*) AS spine_row FROM spine_new) n '
            'USING (%1$s) WHERE o.spine_row IS DISTINCT FROM n.spine_row',
            TG_ARGV[0])
        USING TG_TABLE_NAME, TG_TABLE_SCHEMA, {_DEPTH};
    END IF;
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END
$spine$
"""


def _ddl(conn: sa.Connection, statement: str) -> None:
    # Straight to the driver with no parameters: format()'s %1$s must reach the server
    # as written, not be taken for a placeholder.
    conn.exec_driver_sql(statement, execution_options={"no_parameters": True})


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def install(conn: sa.Connection, table: str, schema: str | None) -> None:
    """(Re)create the functions and ``table``'s capture triggers, on ``conn``."""
    quote = conn.dialect.identifier_preparer.quote_identifier
    target = f"{quote(schema)}.{quote(table)}" if schema else quote(table)
    rows = f"{_SCHEMA}.{ROWS_FUNCTION}"
    conn.execute(sa.text(_LOCK))
    _ddl(conn, _ROW_FUNCTION)
    _ddl(conn, _ROWS_FUNCTION)
    _drop(conn, target)
    _ddl(
        conn,
        f"CREATE TRIGGER spine_capture_insert AFTER INSERT ON {target} "
        f"REFERENCING NEW TABLE AS spine_new FOR EACH STATEMENT EXECUTE FUNCTION {rows}()",
    )
    _ddl(
        conn,
        f"CREATE TRIGGER spine_capture_delete AFTER DELETE ON {target} "
        f"REFERENCING OLD TABLE AS spine_old FOR EACH STATEMENT EXECUTE FUNCTION {rows}()",
    )
    key = sa.inspect(conn).get_pk_constraint(table, schema=schema).get("constrained_columns")
    if key:
        columns = ", ".join(quote(c) for c in key)
        _ddl(
            conn,
            f"CREATE TRIGGER spine_capture_update AFTER UPDATE ON {target} "
            "REFERENCING OLD TABLE AS spine_old NEW TABLE AS spine_new "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {rows}({_literal(columns)})",
        )
        return
    _ddl(
        conn,
        f"CREATE TRIGGER spine_capture_row AFTER UPDATE ON {target} "
        f"FOR EACH ROW EXECUTE FUNCTION {_SCHEMA}.{FUNCTION}()",
    )
    _ddl(
        conn,
        f"CREATE TRIGGER spine_capture_update AFTER UPDATE ON {target} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {rows}()",
    )


def remove(conn: sa.Connection, table: str, schema: str | None) -> None:
    """Drop ``table``'s capture triggers, on ``conn`` (nothing if it has none or is gone)."""
    quote = conn.dialect.identifier_preparer.quote_identifier
    conn.execute(sa.text(_LOCK))
    if sa.inspect(conn).has_table(table, schema=schema):
        _drop(conn, f"{quote(schema)}.{quote(table)}" if schema else quote(table))


def _drop(conn: sa.Connection, target: str) -> None:
    for name in TRIGGERS:
        _ddl(conn, f"DROP TRIGGER IF EXISTS {name} ON {target}")
