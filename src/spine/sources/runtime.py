"""The sources service for code that has no :class:`~spine.bootstrap.Services` at hand.

A workflow step or a script calls :func:`fetch` and gets spine's database from
``spine.config.load_settings()``, as ``spine run`` does; tests pass ``database=`` and
``clock=``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from spine.core.clock import Clock, SystemClock
from spine.core.storage import Database, EngineOptions, create_database
from spine.sources.models import FetchResult
from spine.sources.service import SourceService
from spine.sources.store import ExternalDatabases

_lock = threading.Lock()
_databases: dict[str, Database] = {}
# Engines of registered connections, shared by every fetch of this process: a workflow
# that fetches a database source each run reuses the connection pool.
_external: dict[int, ExternalDatabases] = {}  # by connect timeout


def service(*, database: Database | None = None, clock: Clock | None = None) -> SourceService:
    """A :class:`SourceService` on ``database`` (default: the configured database)."""
    from spine.config import load_settings

    settings = load_settings()
    if database is None:
        with _lock:
            database = _databases.get(settings.database_url)
            if database is None:
                database = create_database(
                    settings.database_url,
                    EngineOptions(busy_timeout_ms=settings.sqlite_busy_timeout_ms),
                )
                _databases[settings.database_url] = database
    with _lock:
        timeout = settings.connect_timeout_seconds
        external = _external.get(timeout)
        if external is None:
            external = _external[timeout] = ExternalDatabases(connect_timeout_seconds=timeout)
    return SourceService.build(settings, database, clock or SystemClock(), databases=external)


def fetch(
    name: str,
    params: Mapping[str, Any] | None = None,
    force: bool = False,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    run_id: str | None = None,
    execution_id: str | None = None,
) -> FetchResult:
    """Fetch the registered source ``name`` and record the fetch.

    Returns:
        The fetch result: ``status`` (SUCCESS, FAILED, NOT_FOUND or UNCHANGED),
        ``record_count``, ``byte_count``, ``content_hash``, ``content`` (bytes or a path)
        and ``metadata``. A failed fetch is a result with ``error`` and
        ``error_category``, not an exception.

    Raises:
        SourceNotFound: If no source has this name.
        SourceDisabled: If the source is disabled.
    """
    return service(database=database, clock=clock).fetch(
        name, params, force=force, run_id=run_id, execution_id=execution_id
    )
