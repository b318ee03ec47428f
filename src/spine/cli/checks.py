"""``spine checks ...``: define data-quality checks, run them now, read their results.

Every command calls the quality service of ``--workspace`` (``services.quality``), the
one the API calls. A check is named by its name (or its id). ``checks run`` exits 0 when
nothing failed at error or fatal, 1 when something did, and 2 on bad input, so that a
shell script or a CI job can gate on it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spine.cli.context import state
from spine.cli.output import console, print_json, print_table, when
from spine.cli.parsing import parse_json_object, parse_time

if TYPE_CHECKING:
    from spine.quality import CheckDefinition, CheckResult, Incident
    from spine.quality.service import CheckOutcome, QualityService

app = typer.Typer(
    help="Data-quality checks: define, run now, read results, apply a YAML file.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArgument = Annotated[str, typer.Argument(help="The check's name (or id).")]
_FAILING = frozenset({"error", "fatal"})


def _service(ctx: typer.Context) -> QualityService:
    return state(ctx).services().quality


def sensor_text(value: Decimal | float | int | None) -> str:
    """A sensor value at full precision, without exponent or trailing zeros.

    ``Decimal("5.00560000")`` is ``5.0056`` and ``Decimal("1E+3")`` is ``1000``; no
    digit the database gave is dropped.
    """
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    return str(value)


def _table(check: CheckDefinition) -> str:
    name = f"{check.target_schema}.{check.target_table}" if check.target_schema else None
    return name or check.target_table


def _schedule(check: CheckDefinition) -> str:
    if not check.cron_expression:
        return ""
    return f"{check.cron_expression} ({check.timezone or 'UTC'})"


@app.command("add")
def add_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The check's name, unique in the workspace.")],
    connection: Annotated[str, typer.Option("--connection", help="A registered connection.")],
    check_type: Annotated[str, typer.Option("--type", help="A type of `spine checks types`.")],
    table: Annotated[str, typer.Option("--table", help="[SCHEMA.]TABLE to check.")],
    column: Annotated[
        str | None, typer.Option("--column", help="The column (column-level types).")
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", help="Type keys and thresholds as JSON, e.g. '{\"max\": 0}'."),
    ] = None,
    severity: Annotated[
        str, typer.Option("--severity", help="warning, error or fatal: how bad a failure is.")
    ] = "error",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help="Run on this cron schedule (5 fields or @daily).")
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help="IANA time zone of --cron (default UTC).")
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What the check guards.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Save a check (checked first: nothing is saved if anything is wrong).

    When the connection's database can be reached, a table or column it does not have
    is refused.
    """
    from spine.core.errors import InvalidInput

    if tz is not None and cron is None:
        raise InvalidInput("--tz is the zone of --cron: give --cron too")
    check = _service(ctx).add_check(
        name,
        connection=connection,
        check_type=check_type,
        table=table,
        column=column,
        config=parse_json_object(config, "--config"),
        severity=severity,
        tags=tag or (),
        cron=cron,
        timezone=tz or "UTC",
        description=description,
    )
    if as_json:
        print_json(check.to_dict())
    else:
        scheduled = f"; runs {_schedule(check)}" if check.cron_expression else ""
        typer.echo(f"check {check.name} ({check.check_type} on {_table(check)}) added{scheduled}")


@app.command("list")
def list_command(
    ctx: typer.Context,
    table: Annotated[str | None, typer.Option("--table", help="Only checks of this table.")] = None,
    connection: Annotated[
        str | None, typer.Option("--connection", help="Only checks of this connection.")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only checks with this tag.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List checks by name."""
    checks = _service(ctx).list_checks(table=table, connection=connection, tag=tag)
    if as_json:
        print_json([c.to_dict() for c in checks])
        return
    print_table(
        "Checks",
        [
            "name",
            "type",
            "connection",
            "table",
            "column",
            "severity",
            "enabled",
            "schedule",
            "tags",
        ],
        [
            (
                c.name,
                c.check_type,
                c.connection_name,
                _table(c),
                c.target_column,
                c.severity.value,
                "yes" if c.enabled else "disabled",
                _schedule(c),
                ",".join(c.tags),
            )
            for c in checks
        ],
    )


@app.command("show")
def show_command(
    ctx: typer.Context,
    name: NameArgument,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Recent results.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Show a check: its definition, its recent results (newest first), its open incident."""
    service = _service(ctx)
    check = service.get_check(name)
    results = service.results(str(check.id), limit=limit)
    incident = service.open_incident(str(check.id))
    if as_json:
        print_json(
            {
                **check.to_dict(),
                "results": [r.to_dict() for r in results],
                "incident": None if incident is None else incident.to_dict(),
            }
        )
        return
    definition = check.to_dict()
    print_table(
        f"Check {check.name}",
        ["field", "value"],
        [(k, _cell(k, v)) for k, v in definition.items()],
    )
    print_results(results)
    if incident is None:
        typer.echo("no open incident")
    else:
        print_incidents("Open incident", [incident])


def _cell(key: str, value: Any) -> Any:
    if key.endswith("_at") and value:
        return when(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def print_results(results: list[CheckResult]) -> None:
    """Results as a table, in the order given."""
    print_table(
        "Results",
        ["executed", "sensor value", "passed", "severity", "ms", "error"],
        [
            (
                when(r.executed_at),
                sensor_text(r.sensor_value),
                "yes" if r.rule_passed else "FAILED",
                r.severity.value if r.severity else "",
                r.execution_time_ms,
                (r.error_message or "")[:80],
            )
            for r in results
        ],
    )


def print_incidents(title: str, incidents: list[Incident]) -> None:
    """Incidents as a table, in the order given.

    Ids are shown whole (``ack`` and ``resolve`` take them); the table and first-seen
    time are left to ``incidents show`` so that the row fits a terminal.
    """
    print_whole_ids(
        title,
        ["id", "check", "status", "severity", "failures", "last seen", "acknowledged by"],
        [
            (
                i.id,
                i.check_name,
                i.status.value,
                i.severity.value,
                i.failure_count,
                when(i.last_seen),
                i.acknowledged_by,
            )
            for i in incidents
        ],
    )


def print_whole_ids(title: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Like :func:`spine.cli.output.print_table`, never shortening the first column (an id)."""
    from rich.table import Table

    table = Table(title=title)
    for index, column in enumerate(columns):
        if index == 0:
            table.add_column(column, no_wrap=True, min_width=36)
        else:
            table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def _set_enabled(ctx: typer.Context, name: str, enabled: bool, as_json: bool) -> None:
    check = _service(ctx).set_enabled(name, enabled)
    if as_json:
        print_json(check.to_dict())
    else:
        typer.echo(f"check {check.name} {'enabled' if enabled else 'disabled'}")


@app.command("enable")
def enable_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Enable a check: it runs again (on its schedule, and with --table/--all)."""
    _set_enabled(ctx, name, True, as_json)


@app.command("disable")
def disable_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Disable a check: its schedule stops and runs by table skip it; its history stays."""
    _set_enabled(ctx, name, False, as_json)


@app.command("remove")
def remove_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Delete a check with its schedule, results, incidents and jobs."""
    check = _service(ctx).remove_check(name)
    if as_json:
        print_json({"name": check.name, "id": str(check.id), "removed": True})
    else:
        typer.echo(f"check {check.name} removed")


@app.command("types")
def types_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The catalogue: each check type's level, config keys and what its sensor value means."""
    types = _service(ctx).check_types()
    if as_json:
        print_json([t.to_dict() for t in types])
        return
    print_table(
        "Check types",
        ["type", "level", "sensor value", "config keys"],
        [
            (
                t.name,
                t.level.value,
                t.sensor,
                ", ".join(
                    f"{key}{'' if key not in t.required else ' (required)'}"
                    for key in t.config_keys
                ),
            )
            for t in types
        ],
    )


@app.command("run")
def run_command(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="Checks to run (names or ids).", show_default=False)
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="Every enabled check of this table.")
    ] = None,
    connection: Annotated[
        str | None, typer.Option("--connection", help="Every enabled check of this connection.")
    ] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Every enabled check.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Run checks now, one scan per table; print one line per check.

    Each line: name, sensor value (full precision), passed or FAILED, severity, and
    milliseconds. Exit 0 when nothing failed at error or fatal, 1 when something did,
    2 on bad input.
    """
    from spine.core.errors import InvalidInput

    if not (names or table or connection or run_all):
        raise InvalidInput("say which checks to run: NAME..., --table, --connection or --all")
    outcomes = _service(ctx).run_checks(
        names or (), table=table, connection=connection, all_checks=run_all, triggered_by="cli"
    )
    if not outcomes:
        raise InvalidInput("no enabled check matches: see `spine checks list`")
    if as_json:
        print_json([o.to_dict() for o in outcomes])
    else:
        for line in outcome_lines(outcomes):
            typer.echo(line)
    if any(failed_badly(o) for o in outcomes):
        raise typer.Exit(1)


def failed_badly(outcome: CheckOutcome) -> bool:
    """Whether a run's result failed at error or fatal (what makes ``checks run`` exit 1)."""
    result = outcome.result
    if result.rule_passed:
        return False
    severity = result.severity.value if result.severity else outcome.check.severity.value
    return severity in _FAILING


def outcome_lines(outcomes: list[CheckOutcome]) -> list[str]:
    """One aligned line per outcome: name, value, passed, severity, ms (and the error)."""
    rows = [
        (
            o.check.name,
            sensor_text(o.result.sensor_value),
            "passed" if o.result.rule_passed else "FAILED",
            o.result.severity.value if o.result.severity else "-",
            f"{o.result.execution_time_ms or 0} ms",
        )
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for outcome, row in zip(outcomes, rows, strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        line = "  ".join([*cells, row[4]])
        if outcome.result.error_message:
            line += f"  error: {outcome.result.error_message.splitlines()[0]}"
        lines.append(line)
    return lines


@app.command("results")
def results_command(
    ctx: typer.Context,
    name: NameArgument,
    since: Annotated[
        str | None, typer.Option("--since", help="Only results from this time on (ISO-8601).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="How many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """A check's results, newest first."""
    results = _service(ctx).results(name, since=parse_time(since, "--since"), limit=limit)
    if as_json:
        print_json([r.to_dict() for r in results])
    else:
        print_results(results)


@app.command("apply")
def apply_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A YAML file of checks (docs/quality.md).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; write nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Also delete the workspace's checks the file does not name."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Bring the workspace's checks to a YAML file: create, update, and with --prune delete.

    Prints the plan first (+ create, ~ update with its field changes, - delete,
    = unchanged). Everything is checked before anything is written; a bad file is one
    error line naming the check and field, exit 2, and nothing written. Applying the
    same file again has nothing to do.
    """
    from spine.cli.checks_apply import apply_file

    apply_file(state(ctx).services(), path, dry_run=dry_run, prune=prune, as_json=as_json)
