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

app = typer.Typer(
    help="Database connections for database sources and quality checks.", no_args_is_help=True
)

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
            "yes" if c.allow_samples else "no",
            c.status,
            when(c.last_tested_at),
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
    "samples",
    "status",
    "last tested",
    "last error",
]

SamplesOption = Annotated[
    bool | None,
    typer.Option(
        "--samples/--no-samples",
        help="Whether quality checks may keep samples of failed rows read through it "
        "(--no-samples for personal data).",
    ),
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
    samples: SamplesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a database connection (for database sources and quality checks)."""
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
        allow_samples=samples is not False,
    )
    if as_json:
        print_json(connection.to_dict())
    else:
        typer.echo(f"connection {connection.name} ({connection.dialect}) added")


@app.command("update")
def update_command(
    ctx: typer.Context,
    name: NameArgument,
    dialect: Annotated[str | None, typer.Option("--dialect", help="A new dialect.")] = None,
    database: Annotated[str | None, typer.Option("--database", help="Database (or file).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Server host.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Server port.")] = None,
    username: Annotated[str | None, typer.Option("--username", help="User name.")] = None,
    password_ref: Annotated[
        str | None, typer.Option("--password-ref", help="env:VAR or file:PATH.")
    ] = None,
    pool_size: Annotated[
        int | None, typer.Option("--pool-size", help="Pooled connections.")
    ] = None,
    max_overflow: Annotated[
        int | None, typer.Option("--max-overflow", help="Extra connections beyond the pool.")
    ] = None,
    pool_timeout: Annotated[
        int | None, typer.Option("--pool-timeout", help="Seconds to wait for a connection.")
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Enable or disable it.")
    ] = None,
    samples: SamplesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a connection's settings (the name is fixed); options not given stay."""
    given: dict[str, Any] = {
        "dialect": None if dialect is None else dialect.strip().lower(),
        "database": database,
        "host": host,
        "port": port,
        "username": username,
        "password_ref": password_ref,
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
        "enabled": enabled,
        "allow_samples": samples,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if not changes:
        from spine.core.errors import InvalidInput

        raise InvalidInput("nothing to change: give at least one option (see --help)")
    connection = _registry(ctx).update(name, changes)
    if as_json:
        print_json(connection.to_dict())
    else:
        typer.echo(f"connection {name} updated")


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
    """Connect and run SELECT 1; records the outcome (status, last_tested_at, last_error)."""
    connection = _registry(ctx).test(name)
    if as_json:
        print_json(connection.to_dict())
    else:
        typer.echo(f"connection {name} OK at {when(connection.last_connected_at)}")


@app.command("remove")
def remove_command(
    ctx: typer.Context,
    name: NameArgument,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Remove it even if quality checks use it: they are removed too."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Remove a connection; refused while quality checks use it, unless --force."""
    _, checks = _registry(ctx).remove_with_checks(name, force=force)
    if as_json:
        print_json({"name": name, "removed": True, "checks_removed": checks})
    elif checks:
        typer.echo(f"connection {name} removed, with {checks} check{'s' * (checks != 1)}")
    else:
        typer.echo(f"connection {name} removed")
