"""The ``spine`` command: global options, command groups, and one-line errors.

Bad input never shows a traceback: :func:`run` turns every :class:`SpineError` and every
database connection failure into one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from spine import __version__
from spine.cli.context import CliState
from spine.cli.output import fail

app = typer.Typer(
    name="spine",
    help="Data pipelines as durable workflows, with their whole history kept in SQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Command groups: name -> (module in spine.cli, its Typer app), in the order `--help`
# lists them.
_GROUPS: dict[str, tuple[str, str]] = {
    "db": ("db", "app"),
    "runs": ("runs", "app"),
    "workflows": ("workflows", "app"),
    "alerts": ("alerts", "app"),
    "dlq": ("alerts", "dlq_app"),
    "breakers": ("alerts", "breakers_app"),
    "sources": ("sources", "app"),
    "connections": ("connections", "app"),
    "schedules": ("schedules", "app"),
    "orgs": ("tenants", "orgs_app"),
    "workspaces": ("tenants", "workspaces_app"),
    "users": ("tenants", "users_app"),
    "keys": ("api_keys", "app"),
    "audit": ("audit", "app"),
    "secret-key": ("secret_key", "app"),
    "checks": ("checks", "app"),
    "incidents": ("incidents", "app"),
    "quality": ("quality", "app"),
    "webhooks": ("webhooks", "app"),
    "automation": ("automation", "app"),
    "roles": ("automation_alerts", "roles_app"),
}
# Single commands: name -> (module in spine.cli, its function), in the order `--help`
# lists them (Typer lists single commands before groups).
_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("runs", "run_command"),
    "worker": ("runs", "worker_command"),
    "scheduler": ("schedules", "scheduler_command"),
    "backfill": ("backfill", "backfill_command"),
    "serve": ("serve", "serve_command"),
    "standalone": ("standalone", "standalone_command"),
}
# Global options that take a value, skipped when looking for the command's name.
_VALUE_OPTIONS = frozenset({"--database-url", "--app", "--log-format", "--workspace"})
_registered: set[str] = set()


def command_named(args: Sequence[str]) -> str | None:
    """Return the command an argument list names, or ``None`` if it names none."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif arg in ("--", "--help", "-h"):
            # `spine --help run` is the root's help, which lists every command.
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def register(names: Sequence[str] | None = None) -> None:
    """Add the commands called ``names`` to :data:`app` (all of them when ``None``).

    Each command's module is imported here, so that a command imports only what it uses:
    ``spine run`` does not import the alerting, sources or API commands.
    """
    wanted = set(_COMMANDS) | set(_GROUPS) if names is None else set(names)
    for name, (module, attribute) in _COMMANDS.items():
        if name in wanted and name not in _registered:
            app.command(name)(getattr(importlib.import_module(f"spine.cli.{module}"), attribute))
            _registered.add(name)
    for name, (module, attribute) in _GROUPS.items():
        if name in wanted and name not in _registered:
            sub_app = getattr(importlib.import_module(f"spine.cli.{module}"), attribute)
            app.add_typer(sub_app, name=name)
            _registered.add(name)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spine {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Database URL (default: $SPINE_DATABASE_URL or sqlite:///spine.db).",
            show_default=False,
        ),
    ] = None,
    app_module: Annotated[
        str | None,
        typer.Option(
            "--app",
            help="Module that registers workflows (default: $SPINE_APP).",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="Log lines as text or json, one per line (default: $SPINE_LOG_FORMAT or "
            "text); the level is $SPINE_LOG_LEVEL (default WARNING).",
            show_default=False,
        ),
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            help="Workspace to act in: NAME, ORG/NAME or id (default: $SPINE_WORKSPACE or "
            "default).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Spine's command line."""
    # `spine db` manages the schema by hand: no automatic upgrade under it.
    ctx.obj = CliState(
        database_url=database_url,
        app=app_module,
        log_format=log_format,
        workspace=workspace,
        upgrade_sqlite=ctx.invoked_subcommand != "db",
    )
    ctx.call_on_close(ctx.obj.close)


def run() -> None:
    """Entry point of the ``spine`` console script."""
    from rich.markup import escape

    # Typer vendors Click as `typer._click`: its usage errors are caught here so that a
    # missing option is one line too, instead of a usage block and a boxed panel.
    from typer import Abort
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    from spine.core.errors import SpineError
    from spine.core.storage.engine import database_error_message

    # Messages quote user input and driver text (`spine-core[postgres]`, `--tier '[/x]'`):
    # escaped, so that rich prints them as they are instead of reading them as markup.
    # Only the command that runs is registered; help, a missing or an unknown command
    # registers them all, so that listings and suggestions are the same as ever.
    name = command_named(sys.argv[1:])
    register([name] if name in _COMMANDS or name in _GROUPS else None)
    try:
        result = app(standalone_mode=False)
    except NoArgsIsHelpError as error:
        error.show()
        raise SystemExit(error.exit_code) from None
    except UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
        fail(escape(error.format_message() + hint), code=error.exit_code)
    except ClickException as error:
        fail(escape(error.format_message()), code=error.exit_code)
    except Abort:
        fail("aborted", code=1)
    except SpineError as error:
        fail(escape(str(error)))
    except Exception as error:
        message = database_error_message(error)
        if message is None:
            raise
        fail(escape(message))
    else:
        # Without standalone mode Click returns `typer.Exit(code)`'s code instead of exiting.
        if isinstance(result, int) and result:
            raise SystemExit(result)
