"""What every command gets from the global options: settings, then services on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from spine.bootstrap import Services
    from spine.config import Settings


@dataclass(slots=True)
class CliState:
    """Global options, and the services built from them the first time one is needed."""

    database_url: str | None = None
    app: str | None = None
    _services: Services | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """Settings from the environment, with the global options on top.

        Global options are also exported to this process's environment, so that the
        user's workflow code, which reads ``spine.config.load_settings()``, sees the
        same database as the command.
        """
        import os

        from spine.config import load_settings

        if self.database_url:
            os.environ["SPINE_DATABASE_URL"] = self.database_url
        if self.app:
            os.environ["SPINE_APP"] = self.app
        return load_settings(database_url=self.database_url, app=self.app)

    def services(self) -> Services:
        """Build (once) the services for this invocation."""
        if self._services is None:
            from spine.bootstrap import build

            self._services = build(self.settings())
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
