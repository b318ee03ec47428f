"""Values the engine hands between its runner and its store.

A claimed run travels as one :class:`Lease`; a step attempt's end waiting to be written
is one :class:`FinishedStep`. Both are plain records, so the store and the step handlers
agree on them without importing each other.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spine.orchestration.history.types import StepRun, StepStatus, WorkflowRun
from spine.orchestration.logs import CapturedLog


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """A run held by one worker: every write for the run checks it in its transaction.

    Attributes:
        run_id: The run held.
        owner: The lease token (``host:pid#ulid``), unique per claim.
        cancel: Set when a lease check or renewal sees that cancellation was asked, so
            the runner never queries the database only for that.
    """

    run_id: str
    owner: str
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)

    @property
    def cancel_requested(self) -> bool:
        """Whether a cancellation request was seen for the run."""
        return self.cancel.is_set()


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A run this worker now holds, and whether it took it over from a dead worker."""

    run: WorkflowRun
    lease: Lease
    taken_over: bool

    @property
    def owner(self) -> str:
        """The lease token."""
        return self.lease.owner

    @property
    def cancel_requested(self) -> bool:
        """Whether cancellation was asked before or when the run was claimed."""
        return self.lease.cancel_requested


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFailure:
    """How a step attempt failed.

    Attributes:
        traceback: The exception's traceback, spine's own frames trimmed, when the
            attempt raised (not when its worker died or it was cancelled).
    """

    error: str
    category: str
    retryable: bool
    traceback: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishedStep:
    """A step attempt's end, ready to be written.

    Attributes:
        step: The attempt (its ``started_at`` and ids as recorded at start).
        status: COMPLETED, FAILED or SKIPPED.
        outputs: The attempt's outputs, if any.
        failure: How it failed, for a FAILED attempt.
        counts_for_run: Whether the run's step counters move: false for map items (the
            map counts as one step) and for a failed attempt that will be retried.
        metrics: The attempt's metrics (``will_retry`` ...).
        retry_in: Seconds until the next attempt, when one follows.
        quality_passed: Spec 002's quality verdict, when the step reported one.
        quality_metrics: Spec 002's quality metrics, when the step reported them.
        logs: The ``ctx.log`` lines of the attempt, written with its end.
    """

    step: StepRun
    status: StepStatus
    outputs: Mapping[str, Any] | None = None
    failure: StepFailure | None = None
    counts_for_run: bool = True
    metrics: Mapping[str, Any] | None = None
    retry_in: float | None = None
    quality_passed: bool | None = None
    quality_metrics: Mapping[str, Any] | None = None
    logs: CapturedLog | None = None
