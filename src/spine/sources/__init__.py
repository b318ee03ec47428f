"""Sources: registry, fetches with change detection, content cache, database connections.

Spec 000, ``05_sources.sql``.

``spine.sources.fetch("finra.otc_weekly", {"week_ending": "2025-01-10"})`` fetches a
registered source and records the fetch; ``fetch_step`` does it inside a workflow.
"""

from spine.sources.cache import ContentCache
from spine.sources.connections import ConnectionRegistry
from spine.sources.errors import (
    ConnectionNotFound,
    ContentNotFound,
    FetchFailed,
    SourceDisabled,
    SourceNotFound,
)
from spine.sources.models import (
    CacheEntry,
    Connection,
    FetchResult,
    FetchStatus,
    Source,
    SourceType,
)
from spine.sources.runtime import fetch, service
from spine.sources.service import SourceService
from spine.sources.step import fetch_step, run_fetch, step_outputs

__all__ = [
    "CacheEntry",
    "Connection",
    "ConnectionNotFound",
    "ConnectionRegistry",
    "ContentCache",
    "ContentNotFound",
    "FetchFailed",
    "FetchResult",
    "FetchStatus",
    "Source",
    "SourceDisabled",
    "SourceNotFound",
    "SourceService",
    "SourceType",
    "fetch",
    "fetch_step",
    "run_fetch",
    "service",
    "step_outputs",
]
