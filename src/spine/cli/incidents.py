"""``spine incidents ...``: the data-quality incidents of the workspace.

A check's failures are grouped into one incident while it keeps failing; people
acknowledge it (saying who looks at it) and resolve it (or it resolves itself after
passing runs). See docs/quality.md, "Incidents".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from spine.cli.checks import print_incidents
from spine.cli.context import state
from spine.cli.output import print_json, print_table, when

if TYPE_CHECKING:
    from spine.quality import Incident
    from spine.quality.service import QualityService

app = typer.Typer(
    help="Data-quality incidents: list, show, acknowledge, resolve.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
IdArgument = Annotated[str, typer.Argument(help="The incident's id.")]
_STATUSES = ("open", "acknowledged", "resolved")


def _service(ctx: typer.Context) -> QualityService:
    return state(ctx).services().quality


@app.command("list")
def list_command(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="open, acknowledged or resolved.")
    ] = None,
    check: Annotated[str | None, typer.Option("--check", help="Only this check's.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="How many.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List incidents: open and acknowledged ones first, worst severity first, newest first.

    With --status, only incidents of that status.
    """
    from spine.core.errors import InvalidInput

    if status is not None and status not in _STATUSES:
        raise InvalidInput(f"--status must be open, acknowledged or resolved, not {status!r}")
    incidents = _service(ctx).list_incidents(status=status, check=check, limit=limit)
    if as_json:
        print_json([i.to_dict() for i in incidents])
    else:
        print_incidents("Incidents", incidents)


def _print_one(incident: Incident) -> None:
    print_table(
        f"Incident {incident.id}",
        ["field", "value"],
        [
            ("check", incident.check_name),
            ("table", incident.target_table),
            ("status", incident.status.value),
            ("severity", incident.severity.value),
            ("failure_count", incident.failure_count),
            ("first_seen", when(incident.first_seen)),
            ("last_seen", when(incident.last_seen)),
            ("acknowledged_by", incident.acknowledged_by),
            ("acknowledged_at", when(incident.acknowledged_at)),
            ("resolved_at", when(incident.resolved_at)),
            ("resolution_notes", incident.resolution_notes),
            ("consecutive_passes", incident.consecutive_passes),
            ("reopened_count", incident.reopened_count),
        ],
    )


@app.command("show")
def show_command(ctx: typer.Context, incident_id: IdArgument, as_json: JsonOption = False) -> None:
    """Show an incident."""
    incident = _service(ctx).get_incident(incident_id)
    if as_json:
        print_json(incident.to_dict())
    else:
        _print_one(incident)


@app.command("ack")
def ack_command(
    ctx: typer.Context,
    incident_id: IdArgument,
    by: Annotated[str, typer.Option("--by", help="Who looks at it.")],
    notes: Annotated[str | None, typer.Option("--notes", help="What is known so far.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge an open incident: someone looks at it (it stays until resolved)."""
    incident = _service(ctx).acknowledge(incident_id, by=by, notes=notes)
    if as_json:
        print_json(incident.to_dict())
    else:
        typer.echo(f"incident {incident.id} ({incident.check_name}) acknowledged by {by}")


@app.command("resolve")
def resolve_command(
    ctx: typer.Context,
    incident_id: IdArgument,
    notes: Annotated[
        str | None, typer.Option("--notes", help="What was wrong and what was done.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve an incident by hand (a check's next failure opens a new one)."""
    incident = _service(ctx).resolve(incident_id, notes=notes)
    if as_json:
        print_json(incident.to_dict())
    else:
        typer.echo(f"incident {incident.id} ({incident.check_name}) resolved")
