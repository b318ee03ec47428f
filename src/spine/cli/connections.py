"""``spine connections ...``: databases that database sources query.

Passwords are given as references (``--password-ref env:VAR`` or ``file:PATH``) and
resolved when used; spine never stores or prints one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from spine.cli.context import state
from spine.cli.output import print_json, print_table, when

if TYPE_CHECKING:
    from spine.sources import Connection, ConnectionRegistry

app = typer.Typer(help="Database connections for database sources.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArgument = Annotated[str, typer.Argument(help="The connection's name.")]


def _registry(ctx: typer.Context) -> ConnectionRegistry:
    return state(ctx).services().sources.connections


def _rows(connections: list[Connection]) -> list[tuple[Any, ...]]:
    return [
        (
            c.name,
            c.dialect,
            c.host,
            c.port,
            c.database,
            c.username,
            c.password_ref,
            f"{c.pool_size}+{c.max_overflow}",
            when(c.last_connected_at),
            (c.last_error or "")[:60],
        )
        for c in connections
    ]


_COLUMNS = [
    "name",
    "dialect",
    "host",
    "port",
    "database",
    "username",
    "password_ref",
    "pool",
    "last connected",
    "last error",
]


@app.command("add")
def add_command(
    ctx: typer.Context,
    name: NameArgument,
    dialect: Annotated[
        str, typer.Option("--dialect", help="sqlite, postgresql, mysql, duckdb or db2.")
    ],
    database: Annotated[str, typer.Option("--database", help="Database name (or file).")],
    host: Annotated[str | None, typer.Option("--host", help="Server host.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Server port.")] = None,
    username: Annotated[str | None, typer.Option("--username", help="User name.")] = None,
    password_ref: Annotated[
        str | None,
        typer.Option("--password-ref", help="env:VAR or file:PATH; the password is never stored."),
    ] = None,
    pool_size: Annotated[int, typer.Option("--pool-size", help="Pooled connections.")] = 5,
    max_overflow: Annotated[
        int, typer.Option("--max-overflow", help="Extra connections beyond the pool.")
    ] = 10,
    pool_timeout: Annotated[
        int, typer.Option("--pool-timeout", help="Seconds to wait for a pooled connection.")
    ] = 30,
    as_json: JsonOption = False,
) -> None:
    """Register a database connection."""
    connection = _registry(ctx).add(
        name,
        dialect=dialect.strip().lower(),
        database=database,
        host=host,
        port=port,
        username=username,
        password_ref=password_ref,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
    )
    if as_json:
        print_json(connection.to_dict())
    else:
        typer.echo(f"connection {connection.name} ({connection.dialect}) added")


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List connections."""
    connections = _registry(ctx).list_connections()
    if as_json:
        print_json([c.to_dict() for c in connections])
    else:
        print_table("Connections", _COLUMNS, _rows(connections))


@app.command("show")
def show_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Show a connection."""
    connection = _registry(ctx).get(name)
    if as_json:
        print_json(connection.to_dict())
    else:
        print_table(f"Connection {name}", _COLUMNS, _rows([connection]))


@app.command("test")
def test_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Connect and run SELECT 1; records last_connected_at, or last_error on failure."""
    connection = _registry(ctx).test(name)
    if as_json:
        print_json(connection.to_dict())
    else:
        typer.echo(f"connection {name} OK at {when(connection.last_connected_at)}")


@app.command("remove")
def remove_command(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Remove a connection."""
    _registry(ctx).remove(name)
    if as_json:
        print_json({"name": name, "removed": True})
    else:
        typer.echo(f"connection {name} removed")
