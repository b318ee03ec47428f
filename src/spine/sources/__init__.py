"""Sources: registry, fetches with change detection, content cache, database connections.

Spec 000, ``05_sources.sql``.

A step fetches a registered source through its context, ``ctx.fetch("finra.otc_weekly",
{"week_ending": "2025-01-10"})``, which records the fetch against the run; ``fetch_step``
is a step that does only that. ``spine.sources.fetch`` is gone and says so when called.
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
from spine.sources.runtime import fetch
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
    "step_outputs",
]
