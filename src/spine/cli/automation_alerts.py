"""``spine automation alerts ...`` (alerts for people) and ``spine roles ...``.

A user acts on an alert by email (``--user``); one who is not among its recipients,
directly or through a role, is told the alert does not exist (one line, exit 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from spine.cli.context import state
from spine.cli.output import print_json, print_table, when

if TYPE_CHECKING:
    from spine.automation.models import Alert

alerts_app = typer.Typer(
    help="Alerts for people: list, acknowledge, dismiss, approve, reject.",
    no_args_is_help=True,
)
roles_app = typer.Typer(
    help="Roles of the workspace: alerts are addressed to them by name.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
UserOption = Annotated[str, typer.Option("--user", help="The email of who acts.")]
NotesOption = Annotated[str | None, typer.Option("--notes", help="Notes kept with it.")]
AlertArgument = Annotated[str, typer.Argument(help="The alert's id.")]


def _show(alert: Alert, verb: str, as_json: bool) -> None:
    from spine.automation.people import alert_to_dict

    if as_json:
        print_json(alert_to_dict(alert))
    else:
        typer.echo(f"alert {alert.id} {verb} ({alert.status.value})")


@alerts_app.command("list")
def list_alerts(
    ctx: typer.Context,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Only those addressed to this email or its roles."),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="active, acknowledged, dismissed or resolved."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List the workspace's alerts, newest first."""
    from spine.automation.models import AlertStatus
    from spine.automation.people import alert_to_dict
    from spine.core.errors import InvalidInput

    try:
        wanted = None if status is None else AlertStatus(status.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in AlertStatus)
        raise InvalidInput(f"unknown --status {status!r}: expected {known}") from None
    found = state(ctx).services().automation.inbox.alerts(user, wanted, limit)
    if as_json:
        print_json([alert_to_dict(a) for a in found])
        return
    print_table(
        "Alerts",
        ["id", "severity", "status", "type", "title", "recipients", "created", "expires"],
        [
            (
                a.id,
                a.severity.value,
                a.status.value + (f" ({a.decision.value})" if a.decision else ""),
                a.alert_type,
                a.title,
                ", ".join(r.name for r in a.recipients),
                when(a.created_date),
                when(a.expires_date),
            )
            for a in found
        ],
    )


@alerts_app.command("ack")
def ack_alert(
    ctx: typer.Context,
    alert_id: AlertArgument,
    user: UserOption,
    notes: NotesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge an alert addressed to you (or to one of your roles)."""
    inbox = state(ctx).services().automation.inbox
    _show(inbox.acknowledge(alert_id, user=user, notes=notes), "acknowledged", as_json)


@alerts_app.command("dismiss")
def dismiss_alert(
    ctx: typer.Context, alert_id: AlertArgument, user: UserOption, as_json: JsonOption = False
) -> None:
    """Dismiss an alert addressed to you (or to one of your roles)."""
    inbox = state(ctx).services().automation.inbox
    _show(inbox.dismiss(alert_id, user=user), "dismissed", as_json)


@alerts_app.command("approve")
def approve_alert(
    ctx: typer.Context,
    alert_id: AlertArgument,
    user: UserOption,
    notes: NotesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve an approval alert (``seek_approval``) addressed to you."""
    from spine.automation.models import Decision

    inbox = state(ctx).services().automation.inbox
    _show(inbox.decide(alert_id, Decision.APPROVED, user=user, notes=notes), "approved", as_json)


@alerts_app.command("reject")
def reject_alert(
    ctx: typer.Context,
    alert_id: AlertArgument,
    user: UserOption,
    notes: NotesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject an approval alert (``seek_approval``) addressed to you."""
    from spine.automation.models import Decision

    inbox = state(ctx).services().automation.inbox
    _show(inbox.decide(alert_id, Decision.REJECTED, user=user, notes=notes), "rejected", as_json)


@roles_app.command("add")
def add_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The role's name (unique in the workspace).")],
    description: Annotated[
        str | None, typer.Option("--description", help="What the role is for.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a role to the workspace."""
    services = state(ctx).services()
    role = services.tenancy.add_role(name, description, actor=services.actor)
    if as_json:
        print_json(role.to_dict())
    else:
        typer.echo(f"role {role.name} added ({role.id})")


@roles_app.command("assign")
def assign_role(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="The role's name.")],
    email: Annotated[str, typer.Argument(help="The user's email.")],
    as_json: JsonOption = False,
) -> None:
    """Give a user a role of the workspace (giving it again changes nothing)."""
    services = state(ctx).services()
    held = services.tenancy.assign_role(role, email, actor=services.actor)
    if as_json:
        print_json(held.to_dict())
    else:
        typer.echo(f"{email} holds role {held.name}")


@roles_app.command("list")
def list_roles(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the workspace's roles with their members."""
    services = state(ctx).services()
    found = services.tenancy.roles(actor=services.actor)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    print_table(
        "Roles",
        ["name", "members", "description", "id", "created"],
        [(r.name, ", ".join(r.members), r.description, r.id, when(r.created_date)) for r in found],
    )
