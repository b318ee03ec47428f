"""The ``spine`` command: global options, command groups, and one-line errors.

Bad input never shows a traceback: :func:`run` turns every :class:`SpineError` and every
database connection failure into one line on stderr and exit code 2.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spine import __version__
from spine.cli import alerts, connections, db, runs, schedules, serve, sources
from spine.cli.context import CliState
from spine.cli.output import fail

app = typer.Typer(
    name="spine",
    help="Data pipelines as durable workflows, with their whole history kept in SQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(runs.app, name="runs")
app.add_typer(alerts.app, name="alerts")
app.add_typer(alerts.dlq_app, name="dlq")
app.add_typer(alerts.breakers_app, name="breakers")
app.add_typer(sources.app, name="sources")
app.add_typer(connections.app, name="connections")
app.command("run")(runs.run_command)
app.command("worker")(runs.worker_command)
app.add_typer(schedules.app, name="schedules")
app.command("scheduler")(schedules.scheduler_command)
app.command("serve")(serve.serve_command)


@app.command("secret-key")
def secret_key_command() -> None:
    """Print a new Fernet key for SPINE_SECRET_KEY (encrypts stored credentials)."""
    from spine.core.crypto import generate_key

    typer.echo(generate_key())


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
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Spine's command line."""
    ctx.obj = CliState(database_url=database_url, app=app_module)
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
