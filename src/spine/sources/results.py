"""A fetch's result as spine records it: its capture id, its row, its failure category."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spine.core.errors import ErrorCategory
from spine.sources.models import FetchResult, Source


def capture_id_for(source: str, params: Mapping[str, Any], content_hash: str) -> str:
    """``source:k=v,...:hash12``, at most 100 characters (``capture_id`` column)."""
    shown = ",".join(f"{k}={params[k]}" for k in sorted(params))
    tail = f":{content_hash[:12]}"
    head = f"{source}:{shown}" if shown else source
    return head[: 100 - len(tail)] + tail


def fetch_row(source: Source, result: FetchResult) -> dict[str, Any]:
    """The ``core_source_fetches`` row of ``result``, a fetch of ``source``."""
    return {
        "id": result.fetch_id,
        "source_id": source.id,
        "source_name": source.name,
        "source_type": source.source_type.value,
        "source_locator": result.locator,
        "status": result.status.value,
        "record_count": result.record_count,
        "byte_count": result.byte_count,
        "content_hash": result.content_hash,
        "etag": result.etag,
        "last_modified": result.last_modified,
        "started_at": result.started_at,
        "completed_at": result.completed_at,
        "duration_ms": result.duration_ms,
        "error": result.error,
        "error_category": result.error_category,
        "retry_count": result.retry_count,
        "execution_id": result.execution_id,
        "run_id": result.run_id,
        "capture_id": result.capture_id,
        # The workspace, for the history of a source once it is removed.
        "metadata_json": _jsonable({**result.metadata, "workspace_id": str(source.workspace_id)}),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def failure_category(result: FetchResult) -> ErrorCategory:
    """The category of a failed fetch (INTERNAL when the row names none)."""
    return ErrorCategory(result.error_category) if result.error_category else ErrorCategory.INTERNAL
