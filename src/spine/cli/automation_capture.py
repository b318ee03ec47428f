"""``spine automation watch|unwatch|entities``: the watched tables (built by the capture work)."""

from __future__ import annotations

from spine.cli.output import fail


def watch_command() -> None:
    """Not built yet."""
    fail("not built yet")


def unwatch_command() -> None:
    """Not built yet."""
    fail("not built yet")


def entities_command() -> None:
    """Not built yet."""
    fail("not built yet")
