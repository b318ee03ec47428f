"""``spine keys ...``: the API keys of the current workspace (``--workspace``).

A key is printed once, when it is made; spine keeps only its prefix and digest.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spine.cli.context import state
from spine.cli.output import print_json, print_table, when

app = typer.Typer(
    help="API keys of the workspace: create (shown once), list, revoke.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("create")
def create_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    scopes: Annotated[
        str, typer.Option("--scopes", help="Comma-separated: read, write, admin.")
    ] = "read",
    expires_in_days: Annotated[
        int | None,
        typer.Option("--expires-in-days", help="Expire after N days (default: never)."),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="The email of the user the key acts for (alerts/mine)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Make an API key and print it, this once: spine cannot show it again."""
    from spine.tenancy import parse_scopes

    wanted = parse_scopes(scopes)
    services = state(ctx).services()
    made = services.tenancy.create_key(
        services.actor, name=name, scopes=wanted, expires_in_days=expires_in_days, user=user
    )
    if as_json:
        print_json(made.to_dict())
        return
    key = made.key
    typer.echo(made.secret)
    typer.echo(
        f"API key {key.name} ({key.id}), scopes {','.join(sorted(key.scopes))}, "
        f"expires {when(key.expires_at) or 'never'}. It is shown only now: keep it "
        "somewhere safe and send it as `Authorization: Bearer <key>`.",
        err=True,
    )


@app.command("list")
def list_keys(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the workspace's keys, newest first (their prefixes, never the keys)."""
    services = state(ctx).services()
    found = services.tenancy.keys(services.actor)
    if as_json:
        print_json([k.to_dict() for k in found])
        return
    print_table(
        "API keys",
        ["name", "id", "prefix", "scopes", "created", "last used", "expires", "revoked"],
        [
            (
                k.name,
                k.id,
                k.key_prefix,
                ",".join(sorted(k.scopes)),
                when(k.created_at),
                when(k.last_used_at),
                when(k.expires_at),
                when(k.revoked_at),
            )
            for k in found
        ],
    )


@app.command("revoke")
def revoke_key(
    ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="The key's id.")]
) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    services = state(ctx).services()
    key = services.tenancy.revoke_key(services.actor, key_id)
    typer.echo(f"API key {key.name} ({key.id}) revoked")
