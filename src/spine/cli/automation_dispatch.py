"""``spine automation dispatch|executions|replay`` (built by the dispatcher work)."""

from __future__ import annotations

from spine.cli.output import fail


def dispatch_command() -> None:
    """Not built yet."""
    fail("not built yet")


def executions_command() -> None:
    """Not built yet."""
    fail("not built yet")


def replay_command() -> None:
    """Not built yet."""
    fail("not built yet")
