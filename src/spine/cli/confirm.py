"""Confirmation before a command destroys data: say what goes, ask on a terminal, or refuse.

Every destructive command (``spine db downgrade``, ``spine runs prune``, ``spine sources
remove``, ``spine alerts channels remove``) calls :func:`confirm` with what it would
delete, before deleting anything, and takes ``--yes`` (:data:`YesOption`):

- with ``--yes``, it goes ahead without a word;
- on a terminal, it prints what would go and asks ``[y/N]``; anything but ``y`` or
  ``yes`` stops with exit code 1 and nothing deleted;
- without a terminal (a script, cron, CI) and without ``--yes``, it refuses in one line,
  exit code 2, nothing deleted: a script must say it means it.

The questions go to stderr, so ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.markup import escape

from spine.cli.output import err_console, fail

YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (needed without a TTY).")
]


def confirm(action: str, summary: str, details: Sequence[str] = (), *, yes: bool) -> None:
    """Return if ``action`` may go ahead; otherwise exit without doing anything.

    Args:
        action: The command, e.g. ``"runs prune --older-than-days 90"``.
        summary: What it would delete, in one line (counts, names): the refusal's text.
        details: Lines shown under the summary on a terminal (one per migration, ...).
        yes: ``--yes`` was given.

    Raises:
        SystemExit: 1 when the user answers no, 2 when there is no terminal to ask on.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        fail(
            escape(f"{action} would delete {summary}; refusing without a terminal: pass --yes"),
            code=2,
        )
    err_console.print(escape(f"{action} will delete {summary}"), highlight=False, soft_wrap=True)
    for line in details:
        err_console.print(escape(f"  {line}"), highlight=False, soft_wrap=True)
    err_console.print(escape("Continue? [y/N] "), end="", highlight=False)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        err_console.print("aborted: nothing deleted", highlight=False)
        raise SystemExit(1)


def plural(count: int, noun: str) -> str:
    """``1 run``, ``3 runs``: a count for a confirmation line."""
    return f"{count} {noun}{'s' * (count != 1)}"
