"""``spine orgs ...``, ``spine workspaces ...`` and ``spine users ...``: who uses spine.

Organizations own workspaces; ``--workspace`` (or ``SPINE_WORKSPACE``) names the one
every other command acts in. Users (spec 003's ``core.users``) are shared by workspaces.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spine.cli.context import state
from spine.cli.output import print_json, print_table, when

orgs_app = typer.Typer(help="Organizations: they own workspaces.", no_args_is_help=True)
workspaces_app = typer.Typer(
    help="Workspaces: each isolates a team's runs, schedules, channels, sources ...",
    no_args_is_help=True,
)
users_app = typer.Typer(help="Users (spec 003's core.users).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@orgs_app.command("create")
def create_org(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The organization's name (unique).")],
    as_json: JsonOption = False,
) -> None:
    """Create an organization."""
    org = state(ctx).services().tenancy.create_organization(name)
    if as_json:
        print_json(org.to_dict())
    else:
        typer.echo(f"organization {org.name} created ({org.id})")


@orgs_app.command("list")
def list_orgs(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List organizations by name."""
    orgs = state(ctx).services().tenancy.organizations()
    if as_json:
        print_json([o.to_dict() for o in orgs])
        return
    print_table(
        "Organizations",
        ["name", "id", "created"],
        [(o.name, o.id, when(o.created_at)) for o in orgs],
    )


@workspaces_app.command("create")
def create_workspace(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The workspace's name (unique in its org).")],
    org: Annotated[str, typer.Option("--org", help="The organization it belongs to.")],
    as_json: JsonOption = False,
) -> None:
    """Create a workspace in an organization (the creation is audited in it)."""
    services = state(ctx).services()
    made = services.tenancy.create_workspace(name, org, services.actor)
    if as_json:
        print_json(made.to_dict())
    else:
        typer.echo(
            f"workspace {made.organization_name}/{made.name} created ({made.id}); "
            f"act in it with --workspace {made.organization_name}/{made.name}"
        )


@workspaces_app.command("list")
def list_workspaces(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List workspaces by organization and name."""
    found = state(ctx).services().tenancy.workspaces()
    if as_json:
        print_json([w.to_dict() for w in found])
        return
    print_table(
        "Workspaces",
        ["organization", "name", "id", "created"],
        [(w.organization_name, w.name, w.id, when(w.created_at)) for w in found],
    )


@users_app.command("add")
def add_user(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user's email (unique, whatever its case).")],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a user."""
    user = state(ctx).services().tenancy.add_user(email, name)
    if as_json:
        print_json(user.to_dict())
    else:
        typer.echo(f"user {user.email} added ({user.id})")


@users_app.command("list")
def list_users(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List users by email."""
    users = state(ctx).services().tenancy.users()
    if as_json:
        print_json([u.to_dict() for u in users])
        return
    print_table(
        "Users",
        ["email", "name", "active", "id", "created"],
        [
            (u.email, u.display_name, "yes" if u.is_active else "no", u.id, when(u.created_date))
            for u in users
        ],
    )
