"""Generate ``docs/schema.md`` from spine's live table metadata.

Usage::

    .venv/bin/python scripts/schema_doc.py           # write docs/schema.md
    .venv/bin/python scripts/schema_doc.py --check   # exit 1 if docs/schema.md is stale

Everything about tables, columns, keys, indexes and views is read from
``spine.core.storage.schema``; only the one-line purposes and the notes below are written
by hand. A table without a purpose line stops the script, so a new table cannot be
left undocumented.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from spine.core.storage.schema import LEGACY_VIEWS, Tier, metadata, tables_of_tier
from spine.core.storage.schema.dq_platform import PARTITIONED_TABLES
from spine.core.storage.types import JSONType, UtcDateTime

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "schema.md"

SPEC_TITLES = {
    "000": "spec 000, SQL schema reference",
    "001": "spec 001, schema changes by tier",
    "002": "spec 002, workflow history",
    "003": "spec 003, workflow automation schema",
    "004": "spec 004, DQ platform schema",
}

PURPOSES = {
    # spec 001 baseline (basic tier)
    "core_executions": "One run of a registered pipeline (a `pipeline` step or a direct call).",
    "core_data_manifests": "What a pipeline produced for a domain, partition, stage and capture.",
    "core_load_records": "One load of produced data into a target table, with row counts.",
    "core_quality_checks": "One result of a quality check on a domain partition (baseline).",
    "core_anomalies": "An anomaly found in the data, usually by a quality check.",
    # spec 000
    "core_workflow_runs": "One execution of a workflow, with its status, timing and lease.",
    "core_workflow_steps": "One attempt of one step within a workflow run.",
    "core_workflow_events": "Append-only log of state changes of runs and steps.",
    "core_workflow_run_stats": "Run counts and summed durations per workflow, UTC day of "
    "creation and status, kept with every status change; `spine runs stats` reads it.",
    "core_workflow_step_logs": "The `ctx.log` lines of one step attempt, bounded, written "
    "with the attempt's end; `spine runs logs` reads it.",
    "core_schedules": "A cron, interval or one-off schedule that starts a workflow or pipeline.",
    "core_schedule_runs": "One fire of a schedule: when it was due and what it started.",
    "core_schedule_locks": "Lock with expiry, so that one scheduler fires a schedule at a time.",
    "core_alert_channels": "Where alerts go (webhook, e-mail, Slack ...) and for which alerts.",
    "core_alerts": "An alert raised by a run, pipeline, check or source.",
    "core_alert_deliveries": "One delivery attempt of one alert to one channel.",
    "core_alert_throttle": "Last send per dedup key, to suppress repeats within a window.",
    "core_sources": "A registered data source (file, HTTP, database, S3, SFTP).",
    "core_source_fetches": "One fetch of a source, with change-detection fields.",
    "core_source_cache": "Cached content of a fetch, for revalidation and reuse.",
    "core_database_connections": "A named external database that sources and checks read.",
    # spec 001 advanced tier
    "dead_letter_queue": "Work that failed its last attempt, kept to retry or inspect.",
    "circuit_breakers": "Shared state of a circuit breaker, seen by every process.",
    # spec 003
    "users": "A person who owns, changes or acknowledges automation objects.",
    "roles": "A named group of users in a workspace that alerts and notifications address.",
    "user_roles": "Which users hold which role.",
    "automation_changes": "One captured change of a watched table, in the dispatcher's order.",
    "automation_cursors": "How far a reader (the dispatcher) has handled the change log.",
    "trigger_types": "Kinds of event that fire rules (on_create, on_update, on_delete, scheduled).",
    "entity_types": "Kinds of monitored entity (table, view).",
    "entities": "A monitored table or view.",
    "automation_rules": "A rule: on which entity, on which trigger, under which conditions.",
    "action_templates": "A reusable default configuration for an action type.",
    "rule_actions": "An ordered action a rule performs.",
    "rule_dependencies": "A rule that runs only after another rule.",
    "automation_executions": "One execution of a rule, with what triggered it and what ran.",
    "notification_deliveries": "Delivery status of one notification to one recipient.",
    "allocation_results": "Stored result of an idempotent action, keyed by idempotency key.",
    "alerts": "An alert created by a rule's `create_alert` action.",
    "alert_recipients": "Who (a user or a role) an automation alert is for.",
    "alert_acknowledgments": "Who acknowledged an automation alert, when, with notes.",
    # spec 004
    "organizations": "Top-level tenant.",
    "workspaces": "Isolated workspace of an organization; every API object belongs to one.",
    "api_keys": "API key of a workspace, stored as prefix and SHA-256 digest.",
    "connections": "A data-quality connection to a warehouse, config encrypted (Fernet).",
    "check_definitions": "A data-quality check on a table or column of a connection.",
    "check_results": "Time series of check executions (partitioned by month on PostgreSQL).",
    "incidents": "Grouped failures of one check; at most one open per check.",
    "schedules": "Cron schedule of one check.",
    "jobs": "One execution of a check, from queued to finished.",
    "webhooks": "A workspace's outgoing webhook and the events it receives.",
    "audit_log": "Who changed what in a workspace (partitioned by month on PostgreSQL).",
}

TABLE_NOTES = {
    "core_executions": "Spec 001 names this table without defining it; its columns are "
    "spine's design. `run_id` and `step_id` have no foreign key because "
    "`core_workflow_runs` belongs to a higher tier.",
    "core_data_manifests": "Spec 001 names this table without defining it; its columns are "
    "spine's design.",
    "core_load_records": "Spec 001 names this table without defining it; its columns are "
    "spine's design.",
    "core_quality_checks": "Spec 001 names this table without defining it; its columns are "
    "spine's design.",
    "core_anomalies": "Spec 001 names this table without defining it; its columns are "
    "spine's design.",
    "core_alert_throttle": "Not in spec 000's tier table; placed in intermediate with the "
    "other alerting tables.",
    "core_sources": "Replaces spec 001's `core_source_configs` (basic tier in spec 001); "
    "the view `core_source_configs` reads it.",
    "users": "Spec 003 references `core.users` without defining it; its columns are "
    "spine's design.",
    "trigger_types": "The four standard trigger types are inserted by the migration with "
    "fixed ids (uuid5).",
    "entity_types": "The two standard entity types are inserted by the migration with "
    "fixed ids (uuid5).",
    "core_workflow_run_stats": "Added by spine (not in the specification): it makes "
    "statistics over millions of runs cheap. `HistoryStore.rebuild_run_statistics()` "
    "recounts it after rows were written by hand.",
    "core_workflow_step_logs": "Added by spine (not in the specification): one row per "
    "attempt that logged anything; at most 64 KiB of messages, the first and last halves, "
    "with one marker line counting the lines dropped (`dropped_lines`).",
    "jobs": "`result_id` refers to `check_results.id` without a foreign key, because "
    "`check_results` is partitioned on PostgreSQL.",
}

ADDED_COLUMNS = {
    ("core_workflow_runs", "metrics"): "spec 002's `WorkflowRun.metrics`",
    ("core_workflow_runs", "lease_owner"): "worker holding the durable-execution lease",
    ("core_workflow_runs", "lease_expires_at"): "when that lease lapses",
    ("core_workflow_runs", "wake_at"): "when a parked run (wait, retry back-off) is due",
    ("core_workflow_runs", "cancel_requested_at"): "cancellation requested",
    ("core_workflow_runs", "updated_at"): "last change of the row",
    ("core_workflow_runs", "idempotency_key"): "the caller's key for starting the run: one run "
    "per workflow and key (`uq_workflow_runs_idempotency`)",
    ("core_workflow_steps", "quality_passed"): "spec 002's `StepRun.quality_passed`",
    ("core_workflow_steps", "quality_metrics"): "spec 002's `StepRun.quality_metrics`",
    ("core_workflow_steps", "error_traceback"): "a failed attempt's traceback, spine's own "
    "frames trimmed, at most 16 KiB",
    ("core_schedules", "catchup"): "catch-up after downtime (docs/scheduling.md)",
    ("core_schedules", "dst_policy"): "per-schedule DST gap/fold policy",
}

COLUMN_NOTES = {
    ("notification_deliveries", "recipient_id"): "spec: UUID, described as user id or "
    "e-mail; text holds both",
    ("api_keys", "scopes"): "spec: TEXT[]; a JSON array",
    ("api_keys", "key_hash"): "SHA-256 digest, not bcrypt",
    ("check_definitions", "tags"): "spec: TEXT[]; a JSON array",
    ("webhooks", "events"): "spec: TEXT[]; a JSON array",
    ("core_workflow_steps", "params"): "spec 002 `input_params`",
    ("core_workflow_steps", "outputs"): "spec 002 `output_data`",
    ("core_workflow_steps", "row_count"): "spec 002 `records_processed`",
    ("core_workflow_steps", "step_order"): "0-based",
    ("jobs", "result_id"): "refers to `check_results.id` (no foreign key)",
}

# Created by the intermediate revision on PostgreSQL only; not in the metadata.
GIN_INDEXES = {
    "core_workflow_runs": ("gin_workflow_runs_params", "params"),
    "core_alerts": ("gin_core_alerts_metadata", "metadata_json"),
    "check_definitions": ("gin_check_definitions_config", "config"),
    "automation_rules": ("gin_automation_rules_conditions", "trigger_conditions"),
    "automation_executions": ("gin_automation_executions_trigger", "trigger_data"),
}

VIEW_NOTES = {
    "workflow_runs": "Spec 002's run table: the spec 000 columns of the same names.",
    "workflow_step_runs": "Spec 002's step table, with its column names.",
    "scheduler_schedules": "Spec 001's schedule table. `interval_minutes` and "
    "`interval_hours` are `interval_seconds` divided by 60 and 3600 (integer division).",
    "scheduler_runs": "Spec 001's schedule-run table. `status` is lower-cased; `result` "
    "holds the id of the workflow run the fire started.",
    "core_source_configs": "Spec 001's basic-tier source table, replaced by `core_sources`.",
    "alert_history": "Spec 001's alert table: one row per delivery attempt that was SENT "
    "or FAILED (pending and throttled attempts are left out). `success` is 1 for SENT.",
}


def render_type(column: sa.Column[Any]) -> str:
    """Return the column's type in generic SQL words (``TEXT``, ``TIMESTAMP`` ...)."""
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return "TIMESTAMP"
    if isinstance(kind, JSONType):
        return "JSON"
    if isinstance(kind, sa.Uuid):
        return "UUID"
    if isinstance(kind, sa.Boolean):
        return "BOOLEAN"
    if isinstance(kind, sa.BigInteger):
        return "BIGINT"
    if isinstance(kind, sa.Integer):
        return "INTEGER"
    if isinstance(kind, sa.Float):
        return "FLOAT"
    if isinstance(kind, sa.Numeric):
        return "NUMERIC"
    if isinstance(kind, sa.LargeBinary):
        return "BINARY"
    if isinstance(kind, sa.Text):
        return "TEXT"
    if isinstance(kind, sa.String):
        return f"TEXT({kind.length})" if kind.length else "TEXT"
    raise SystemExit(f"schema_doc: no generic name for {type(kind).__name__} ({column})")


def render_default(column: sa.Column[Any]) -> str:
    """Return the column's server default as SQL text, or an empty string."""
    if column.identity is not None:
        return "identity"
    default = column.server_default
    if default is None:
        return ""
    arg = getattr(default, "arg", None)
    if isinstance(arg, str):
        numeric = isinstance(column.type, sa.Integer | sa.Numeric)
        return arg if numeric else f"'{arg}'"
    if isinstance(arg, sa.sql.elements.True_):
        return "true"
    if isinstance(arg, sa.sql.elements.False_):
        return "false"
    if isinstance(arg, sa.TextClause):
        return arg.text
    return str(arg)


def render_where(index: sa.Index) -> str:
    """Return an index's partial WHERE clause (PostgreSQL's, with SQLite's if it differs)."""
    pg = index.dialect_kwargs.get("postgresql_where")
    lite = index.dialect_kwargs.get("sqlite_where")
    if pg is None and lite is None:
        return ""
    pg_text = str(pg) if pg is not None else ""
    lite_text = str(lite) if lite is not None else ""
    if not pg_text or pg_text == lite_text:
        return f"`{pg_text or lite_text}`"
    if not lite_text:
        return f"`{pg_text}` (PostgreSQL only)"
    return f"`{pg_text}` (SQLite: `{lite_text}`)"


def anchor(heading: str) -> str:
    """Return the link target GitHub gives a Markdown heading."""
    kept = "".join(ch for ch in heading.lower() if ch.isalnum() or ch in " -_")
    return "#" + kept.replace(" ", "-")


def code(names: Iterable[str]) -> str:
    """Return names as comma-separated inline code."""
    return ", ".join(f"`{n}`" for n in names)


def qualified(table: sa.Table) -> str:
    """Return ``schema.name`` on PostgreSQL terms, or the bare name."""
    return f"{table.schema}.{table.name}" if table.schema else table.name


def table_section(table: sa.Table) -> list[str]:
    """Return the Markdown lines documenting one table."""
    name = table.name
    spec = str(table.info["spec"])
    lines = [f"### {qualified(table)}", "", PURPOSES[name], ""]
    facts = [f"- Specification: {SPEC_TITLES[spec]}."]
    if table.schema:
        facts.append(
            f"- PostgreSQL schema `{table.schema}` (`{qualified(table)}`); "
            "a plain table on SQLite and DB2."
        )
    facts.append(f"- Primary key: {code(c.name for c in table.primary_key.columns)}.")
    if name in PARTITIONED_TABLES:
        by = PARTITIONED_TABLES[name]
        facts.append(
            f"- PostgreSQL: partitioned by month on `{by}`, primary key "
            f"(`{by}`, `id`), with a DEFAULT partition. SQLite: a plain table keyed "
            "by `id`."
        )
    if name in TABLE_NOTES:
        facts.append(f"- {TABLE_NOTES[name]}")
    lines += [*facts, ""]

    lines += ["| column | type | null | default | notes |", "|---|---|---|---|---|"]
    for column in table.columns:
        notes = []
        if column.primary_key:
            notes.append("primary key")
        if (name, column.name) in ADDED_COLUMNS:
            notes.append(f"**added by spine**: {ADDED_COLUMNS[(name, column.name)]}")
        if (name, column.name) in COLUMN_NOTES:
            notes.append(COLUMN_NOTES[(name, column.name)])
        default = render_default(column)
        lines.append(
            f"| `{column.name}` | {render_type(column)} | "
            f"{'yes' if column.nullable else 'NOT NULL'} | "
            f"{f'`{default}`' if default else ''} | {'; '.join(notes)} |"
        )
    lines.append("")

    uniques = sorted(
        (c for c in table.constraints if isinstance(c, sa.UniqueConstraint)),
        key=lambda c: str(c.name),
    )
    if uniques:
        lines.append("Unique constraints:")
        lines += [f"- `{c.name}` ({code(col.name for col in c.columns)})" for c in uniques]
        lines.append("")

    checks = sorted(
        (c for c in table.constraints if isinstance(c, sa.CheckConstraint)),
        key=lambda c: str(c.sqltext),
    )
    if checks:
        lines.append("Checks:")
        lines += [f"- `{c.sqltext}`" for c in checks]
        lines.append("")

    indexes = sorted(table.indexes, key=lambda i: str(i.name))
    if indexes or name in GIN_INDEXES:
        lines.append("Indexes:")
        for index in indexes:
            columns = (e.name if isinstance(e, sa.Column) else str(e) for e in index.expressions)
            text = f"- `{index.name}` ({code(columns)})"
            if index.unique:
                text += " UNIQUE"
            where = render_where(index)
            if where:
                text += f" WHERE {where}"
            lines.append(text)
        if name in GIN_INDEXES:
            gin_name, gin_column = GIN_INDEXES[name]
            lines.append(f"- `{gin_name}` USING GIN (`{gin_column}`), PostgreSQL only")
        lines.append("")

    fks = sorted(table.foreign_keys, key=lambda fk: str(fk.parent.name))
    if fks:
        lines.append("Foreign keys:")
        for fk in fks:
            target = fk.column.table
            action = fk.ondelete.upper() if fk.ondelete else "NO ACTION"
            ref = f"`{qualified(target)}.{fk.column.name}`"
            lines.append(f"- `{fk.parent.name}` → {ref}, ON DELETE {action}")
        lines.append("")
    return lines


def view_section() -> list[str]:
    """Return the Markdown lines documenting the legacy read-only views."""
    dialect = sqlite.dialect()
    lines = [
        "## Legacy read-only views",
        "",
        "Views under the table names of spec 001 and spec 002, so that SQL written "
        "against those drafts still reads. They are created by the intermediate tier. "
        "They are for reading: SQLite refuses writes to a view, PostgreSQL accepts "
        "writes through the single-table ones.",
        "",
    ]
    for view in LEGACY_VIEWS:
        froms = []
        for from_ in view.query.get_final_froms():
            froms += [t.name for t in sa.sql.util.find_tables(from_) if isinstance(t, sa.Table)]
        lines += [
            f"### {view.name}",
            "",
            VIEW_NOTES[view.name],
            "",
            f"- Tier: {view.tier.value}.",
            f"- Reads: {code(dict.fromkeys(froms))}.",
        ]
        where = view.query.whereclause
        if where is not None:
            sql = where.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            lines.append(f"- Rows: WHERE `{sql}`.")
        lines += ["", "| view column | from |", "|---|---|"]
        for column in view.query.selected_columns:
            inner = column.element if isinstance(column, sa.Label) else column
            sql = inner.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            lines.append(f"| `{column.name}` | `{sql}` |")
        lines.append("")
    return lines


def dialect_section() -> list[str]:
    """Return the Markdown lines describing how each dialect stores the schema."""
    gin = [
        f"`{qualified(metadata.tables[_key(table)])}.{column}` (`{name}`)"
        for table, (name, column) in GIN_INDEXES.items()
    ]
    partitioned = code(PARTITIONED_TABLES)
    return [
        "## Dialects",
        "",
        "| generic | SQLite | PostgreSQL | DB2 |",
        "|---|---|---|---|",
        "| TIMESTAMP | `VARCHAR(32)`: ISO-8601 UTC text of fixed width "
        "(`2025-01-10T12:00:00.000000+00:00`), so text order is time order | `TIMESTAMPTZ` "
        "| `TIMESTAMP` (UTC) |",
        "| JSON | `JSON` (text) | `JSONB` | `CLOB` |",
        "| UUID | `CHAR(32)` (hex) | `UUID` | `CHAR(32)` |",
        "| BOOLEAN | `BOOLEAN` (0/1) | `BOOLEAN` | `BOOLEAN` |",
        "| TEXT(n) | `VARCHAR(n)` | `VARCHAR(n)` | `VARCHAR(n)` |",
        "| TEXT | `TEXT` | `TEXT` | `CLOB` |",
        "| BINARY | `BLOB` | `BYTEA` | `BLOB` |",
        "| identity | `INTEGER PRIMARY KEY` (rowid) | `BIGINT GENERATED ... AS IDENTITY` "
        "| `BIGINT GENERATED ... AS IDENTITY` |",
        "",
        "SQLite:",
        "- Spec 003's tables and `users` are plain tables (the engine's schema translate "
        "map drops `workflow` and `core`).",
        f"- {partitioned} are plain tables with an integer `id` key.",
        "- Partial indexes use SQLite's `WHERE` (booleans compare with 1 and 0).",
        "",
        "PostgreSQL:",
        "- Spec 003's tables live in schema `workflow`, `users` in schema `core`.",
        f"- GIN indexes over JSONB, created by the migration only here: {', '.join(gin)}.",
        f"- {partitioned} are partitioned by month (`PARTITION BY RANGE`), with primary "
        "key (partition column, `id`) and a DEFAULT partition, so no insert fails for "
        "want of a partition. `spine db upgrade` creates the current month and the next "
        "3; `spine db partitions --months-ahead N` adds more and moves rows of those "
        "months out of the DEFAULT partition.",
        "",
        "DB2:",
        "- DDL only, printed offline by `spine db sql --dialect db2` through the "
        "`ibm_db_sa` dialect (extra `db2`); spine does not connect to DB2.",
        "- One flat schema: spec 003's tables and `users` are plain tables.",
        "- JSON and TEXT columns are `CLOB`; no GIN indexes, no partitions.",
        "",
    ]


def _key(name: str) -> str:
    for table in metadata.tables.values():
        if table.name == name:
            return table.key
    raise SystemExit(f"schema_doc: GIN_INDEXES names unknown table {name!r}")


def render() -> str:
    """Return the whole of ``docs/schema.md``."""
    tables = list(metadata.tables.values())
    missing = sorted(t.name for t in tables if t.name not in PURPOSES)
    if missing:
        raise SystemExit(f"schema_doc: add a purpose line for {', '.join(missing)}")
    for view in LEGACY_VIEWS:
        if view.name not in VIEW_NOTES:
            raise SystemExit(f"schema_doc: add a note for view {view.name}")

    lines = [
        "<!-- Generated by scripts/schema_doc.py from spine.core.storage.schema. "
        "Do not edit by hand: run `.venv/bin/python scripts/schema_doc.py`. -->",
        "",
        "# Database schema",
        "",
        f"{len(tables)} tables in three tiers, and {len(LEGACY_VIEWS)} read-only views. "
        "Each tier includes the tiers below it: `spine db upgrade --tier basic|"
        "intermediate|advanced` (default: all). Column types are generic; the section "
        '"Dialects" says how each is stored. Why the schema differs from the '
        "specification is in `docs/decisions.md`.",
        "",
    ]
    # Within a tier: by specification document, then in the order PURPOSES lists them.
    order = list(PURPOSES)
    by_tier = {
        tier: sorted(tables_of_tier(tier), key=lambda t: (t.info["spec"], order.index(t.name)))
        for tier in Tier
    }
    for tier, members in by_tier.items():
        links = ", ".join(f"[`{qualified(t)}`]({anchor(qualified(t))})" for t in members)
        lines.append(f"- **{tier.value}**: {links}")
    lines.append("")
    for tier, members in by_tier.items():
        lines += [f"## Tier: {tier.value}", ""]
        for table in members:
            lines += table_section(table)
    lines += view_section()
    lines += dialect_section()
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``docs/schema.md``, or with ``--check`` report whether it is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/schema.md is out of date"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            sys.stderr.write("docs/schema.md is out of date: run scripts/schema_doc.py\n")
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {OUTPUT.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
