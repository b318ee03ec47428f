"""``spine audit list``: who changed what in the current workspace (``--workspace``)."""

from __future__ import annotations

from typing import Annotated

import typer

from spine.cli.context import state
from spine.cli.output import print_json, print_table, when
from spine.cli.parsing import parse_time

app = typer.Typer(help="The audit log of the workspace.", no_args_is_help=True)


@app.command("list")
def list_entries(
    ctx: typer.Context,
    entity_type: Annotated[
        str | None,
        typer.Option("--entity-type", help="schedule, alert_channel, api_key, source ..."),
    ] = None,
    entity_id: Annotated[
        str | None, typer.Option("--entity-id", help="The object's id (UUID or ULID).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only changes at or after (ISO).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="How many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List changes, newest first: who (API key, or the CLI), what, which fields.

    ``--json`` gives each change's ``{"field": {"old", "new"}}``.
    """
    services = state(ctx).services()
    entries = services.tenancy.audit_entries(
        services.actor,
        entity_type=entity_type,
        entity_id=entity_id,
        since=parse_time(since, "--since"),
        limit=limit,
    )
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    print_table(
        "Audit log",
        ["id", "at", "by", "action", "entity", "entity id", "fields changed"],
        [
            (
                e.id,
                when(e.created_at),
                f"key {e.api_key_id}" if e.api_key_id else "cli",
                e.action.value,
                e.entity_type,
                e.entity_id,
                ", ".join(sorted(e.changes or {})),
            )
            for e in entries
        ],
    )
