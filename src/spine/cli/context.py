"""What every command gets from the global options: settings, then services on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from spine.bootstrap import Services


@dataclass(slots=True)
class CliState:
    """Global options, and the services built from them the first time one is needed."""

    database_url: str | None = None
    app: str | None = None
    log_format: str | None = None
    _services: Services | None = field(default=None, repr=False)

    def services(self) -> Services:
        """Build (once) the services for this invocation.

        Settings come from the environment with the global options on top, passed down
        as values, never through the environment: workflow code reaches spine's
        database and services through its step context.
        """
        if self._services is None:
            from spine.bootstrap import build

            self._services = build(
                database_url=self.database_url, app=self.app, log_format=self.log_format
            )
        return self._services

    def load_app(self) -> None:
        """Import the user's module (``--app`` / ``SPINE_APP``) so its workflows register."""
        from spine.bootstrap import import_app

        import_app(self.services().settings.app)

    def close(self) -> None:
        """Release what the services hold."""
        if self._services is not None:
            self._services.close()
            self._services = None


def state(ctx: typer.Context) -> CliState:
    """Return the state the root callback stored on the context."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, CliState):
        obj = CliState()
        root.obj = obj
    return obj
