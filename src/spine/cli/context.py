"""What every command gets from the global options: settings, then services on demand."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from spine.bootstrap import Services

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CliState:
    """Global options, and the services built from them the first time one is needed."""

    database_url: str | None = None
    app: str | None = None
    log_format: str | None = None
    #: ``--workspace``: the workspace every command acts in (``None``: the setting).
    workspace: str | None = None
    #: Create or upgrade an embedded SQLite database's schema on first use (every
    #: command but ``spine db``, which manages the schema by hand).
    upgrade_sqlite: bool = True
    _services: Services | None = field(default=None, repr=False)

    def services(self) -> Services:
        """Build (once) the services for this invocation.

        Settings come from the environment with the global options on top, passed down
        as values, never through the environment: workflow code reaches spine's
        database and services through its step context.
        """
        if self._services is None:
            from spine.bootstrap import build

            services = build(
                database_url=self.database_url, app=self.app, log_format=self.log_format
            )
            try:
                if self.upgrade_sqlite:
                    _upgrade_embedded(services)
                workspace = self.workspace or services.settings.workspace
                services = services.in_workspace(workspace)
            except BaseException:
                services.close()
                raise
            self._services = services
        return self._services

    def load_app(self) -> None:
        """Import the user's module (``--app`` / ``SPINE_APP``) so its workflows register."""
        from spine.cli.app_module import import_app

        import_app(self.services().settings.app)

    def close(self) -> None:
        """Release what the services hold."""
        if self._services is not None:
            self._services.close()
            self._services = None


def _upgrade_embedded(services: Services) -> None:
    """Bring a SQLite file's schema to the head of the tiers it has (all, when new).

    The embedded default needs no set-up step: the first command creates the database
    and its tables, and a later spine's first command applies its new revisions. Only
    SQLite files: a PostgreSQL database is shared and migrated on purpose (`spine db
    upgrade`); a command against it without the schema says so. The check is one query
    and a folder listing; Alembic is imported only when there is something to apply.
    """
    from spine.config import sqlite_file
    from spine.core.storage.schema_head import schema_behind

    database = services.database
    path = sqlite_file(services.settings.database_url)
    if not database.is_sqlite or path is None:
        return
    behind = schema_behind(database)
    if behind is None:
        return
    try:
        if behind.empty:
            services.migrator.upgrade()
        for tier in behind.tiers:
            services.migrator.upgrade(tier)
    except Exception:
        # Another process starting at the same moment may have applied it first.
        if schema_behind(database) is not None:
            raise
        return
    # Logged, not printed: a command's output (and its one error line) stays its own.
    log.info("%s spine's schema in %s", "created" if behind.empty else "upgraded", path)


def state(ctx: typer.Context) -> CliState:
    """Return the state the root callback stored on the context."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, CliState):
        obj = CliState()
        root.obj = obj
    return obj
