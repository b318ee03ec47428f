"""``fetch_step``: a workflow step that fetches a source and links the fetch to the run.

The engine (``spine.orchestration``) sits below sources in the layers, so ``Step`` cannot
grow a ``Step.fetch`` without importing upwards; this factory builds the equivalent
``Step.lambda_`` instead (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from spine.orchestration import RetryPolicy, Step, StepContext
from spine.sources.errors import FetchFailed
from spine.sources.models import FetchResult
from spine.sources.service import failure_category

ParamsSource = Mapping[str, Any] | Callable[[StepContext], Mapping[str, Any]] | None


def step_outputs(result: FetchResult) -> dict[str, Any]:
    """What a fetch step returns: status, path(s), hash, counts, capture and fetch ids."""
    content = result.content
    return {
        "fetch_id": result.fetch_id,
        "source_name": result.source_name,
        "status": result.status.value,
        "changed": result.status.value == "SUCCESS",
        "record_count": result.record_count,
        "byte_count": result.byte_count,
        "content_hash": result.content_hash,
        "capture_id": result.capture_id,
        "locator": result.locator,
        "path": str(content) if content is not None and not isinstance(content, bytes) else None,
        "paths": [str(p) for p in result.paths],
        "etag": result.etag,
        "last_modified": result.last_modified,
    }


def run_fetch(
    ctx: StepContext,
    source_name: str,
    params: ParamsSource = None,
    *,
    force: bool | Callable[[StepContext], bool] = False,
) -> FetchResult:
    """Fetch through the step's context (for a step function that does more than fetch).

    The fetch row is linked to the run (``ctx.fetch``).

    Raises:
        FetchFailed: If the fetch is FAILED or NOT_FOUND (its category drives retries).
        StepServiceMissing: If the step's runner was given no sources.
    """
    values = params(ctx) if callable(params) else params
    forced = force(ctx) if callable(force) else force
    result: FetchResult = ctx.fetch(source_name, dict(values or {}), force=forced)
    if not result.ok:
        raise FetchFailed(
            source_name, result.status.value, result.error or "", failure_category(result)
        )
    return result


def fetch_step(
    step_name: str,
    source_name: str,
    *,
    params: ParamsSource = None,
    force: bool | Callable[[StepContext], bool] = False,
    retry: RetryPolicy | None = None,
    timeout_seconds: float | None = None,
) -> Step:
    """A step that fetches ``source_name`` and records the fetch against the run.

    Args:
        step_name: The step's name.
        source_name: A registered source.
        params: The fetch's params, or a callable of the step context returning them.
        force: Fetch even when unchanged (or a callable of the context).
        retry: The step's retry policy (a FAILED fetch raises with its category).
        timeout_seconds: The step's timeout.

    Returns:
        A ``Step.lambda_`` whose outputs are :func:`step_outputs` of the fetch.
    """

    def run(ctx: StepContext) -> dict[str, Any]:
        result = run_fetch(ctx, source_name, params, force=force)
        return step_outputs(result)

    return Step.lambda_(step_name, run, retry=retry, timeout_seconds=timeout_seconds)
