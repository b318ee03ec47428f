"""Writes a run's step transitions, holding back completions to share a commit.

A step that completed is not written at once: its end is written in the transaction
that starts the next step, so a sequence of steps costs one commit per step. Every other
write records the held completion first. Map items do the same per worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from spine.orchestration.history.types import StepRun, StepStatus
from spine.orchestration.models import FinishedStep, Lease
from spine.orchestration.store import RunStore


class StepRecorder:
    """Records the attempts of one claimed run, for the worker holding its lease.

    Args:
        store: The run store.
        lease: The lease every write checks.
    """

    def __init__(self, store: RunStore, lease: Lease) -> None:
        self.store = store
        self.lease = lease
        self._held: FinishedStep | None = None
        self._held_items: dict[int, FinishedStep] = {}

    def start(
        self, step: StepRun, *, pipeline_name: str | None = None, item: bool = False
    ) -> StepRun:
        """Record an attempt RUNNING, with the completion held for this thread, if any.

        ``item`` says a map item starts (it writes its own thread's held completion).

        Raises:
            LeaseLost: If the lease is gone; nothing is written.
            RunCancelled: If the held completion found the run cancelled (it is recorded;
                nothing is started).
        """
        if item:
            completing = self._held_items.pop(threading.get_ident(), None)
        else:
            completing, self._held = self._held, None
        return self.store.start_step(
            self.lease, step, pipeline_name=pipeline_name, completing=completing
        )

    def hold(self, finished: FinishedStep, *, item: bool = False) -> None:
        """Keep a COMPLETED attempt to be written with the next start (of this thread)."""
        if item:
            self._held_items[threading.get_ident()] = finished
        else:
            self._held = finished

    def finish(self, finished: FinishedStep) -> StepRun:
        """Record an attempt's end now (after the held completion)."""
        self.flush()
        return self.store.finish_step(self.lease, finished)

    def complete(self, step: StepRun, outputs: Mapping[str, Any]) -> StepRun:
        """Record an attempt COMPLETED now."""
        return self.finish(FinishedStep(step=step, status=StepStatus.COMPLETED, outputs=outputs))

    def flush(self) -> None:
        """Record the held top-level completion, if any."""
        held, self._held = self._held, None
        if held is not None:
            self.store.finish_step(self.lease, held)

    def flush_items(self) -> None:
        """Record the map items completed but not yet recorded (after the map's threads)."""
        while self._held_items:
            _, held = self._held_items.popitem()
            self.store.finish_step(self.lease, held)
