"""``spine automation watch|unwatch|entities``: the tables whose changes rules react to.

Watching a table installs a capture trigger that records each insert, update and
delete in the transaction that makes it; spine's own ``core_workflow_runs``,
``check_results``, ``incidents`` and ``alerts`` are recorded by spine itself. See
docs/automation.md, "Watching a table".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from spine.cli.context import state
from spine.cli.output import print_json, print_table, when

if TYPE_CHECKING:
    from spine.automation.capture import EntityService
    from spine.automation.models import Entity

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TableArgument = Annotated[str, typer.Argument(help="The table's name (without its schema).")]


def _service(ctx: typer.Context) -> EntityService:
    return state(ctx).services().automation.entities


def _print(entity: Entity, verb: str, as_json: bool) -> None:
    from spine.automation.capture import entity_to_dict

    if as_json:
        print_json(entity_to_dict(entity))
        return
    where = f"{entity.schema_name}." if entity.schema_name else ""
    columns = ", ".join(entity.columns) or "-"
    typer.echo(f"{verb} {entity.entity_type.value} {where}{entity.name} (columns: {columns})")


def watch_command(
    ctx: typer.Context,
    table: TableArgument,
    schema: Annotated[
        str | None,
        typer.Option("--schema", help="PostgreSQL schema (default: the current one)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Watch TABLE: record its inserts, updates and deletes for rules (again: refresh)."""
    _print(_service(ctx).watch(table, schema), "watching", as_json)


def unwatch_command(ctx: typer.Context, table: TableArgument, as_json: JsonOption = False) -> None:
    """Stop watching TABLE (its rules and history stay; watch it again to resume)."""
    _print(_service(ctx).unwatch(table), "no longer watching", as_json)


def entities_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the workspace's watched tables (and the ones no longer watched)."""
    from spine.automation.capture import entity_to_dict

    found = _service(ctx).entities()
    if as_json:
        print_json([entity_to_dict(e) for e in found])
        return
    print_table(
        "Watched tables",
        ["name", "type", "schema", "active", "columns", "since"],
        [
            (
                e.name,
                e.entity_type.value,
                e.schema_name or "",
                "yes" if e.is_active else "no",
                len(e.columns),
                when(e.created_date),
            )
            for e in found
        ],
    )
