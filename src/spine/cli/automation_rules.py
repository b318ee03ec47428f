"""``spine automation apply|rules|templates|test`` (built by the rules work)."""

from __future__ import annotations

import typer

from spine.cli.output import fail

rules_app = typer.Typer(help="Not built yet.", no_args_is_help=True)
templates_app = typer.Typer(help="Not built yet.", no_args_is_help=True)


def apply_command() -> None:
    """Not built yet."""
    fail("not built yet")


def test_command() -> None:
    """Not built yet."""
    fail("not built yet")
