"""``spine automation alerts ...`` and ``spine roles ...`` (built by the alerts work)."""

from __future__ import annotations

import typer

alerts_app = typer.Typer(help="Not built yet.", no_args_is_help=True)
roles_app = typer.Typer(help="Not built yet.", no_args_is_help=True)
