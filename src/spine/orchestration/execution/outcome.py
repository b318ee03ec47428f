"""What executing one step came to: done, parked, failed or cancelled."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from spine.orchestration.models import StepFailure


class OutcomeKind(Enum):
    """How the run goes on after a step."""

    DONE = "done"  # on to the next step (or to ``jump_to``)
    PARK = "park"  # release the run until ``wake_at``
    FAIL = "fail"  # the run fails with ``failure``
    CANCEL = "cancel"  # the run was cancelled while the step ran


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a step handler.

    Attributes:
        kind: What the run does next.
        outputs: The step's outputs, for DONE.
        wake_at: When the run is due again, for PARK.
        reason: Why it parks (recorded in the ``run.parked`` event).
        failure: Why it failed, for FAIL.
        jump_to: A later step to go to (a choice), for DONE.
        uncounted: A failure read back from history, not yet in ``failed_steps``.
        child_run_id: The child run that wakes the parked run when it finishes.
    """

    kind: OutcomeKind
    outputs: Mapping[str, Any] = field(default_factory=dict)
    wake_at: datetime | None = None
    reason: str = ""
    failure: StepFailure | None = None
    jump_to: str | None = None
    uncounted: bool = False
    child_run_id: str | None = None

    @classmethod
    def done(cls, outputs: Mapping[str, Any], jump_to: str | None = None) -> Outcome:
        """Go on, with these outputs."""
        return cls(OutcomeKind.DONE, outputs, jump_to=jump_to)

    @classmethod
    def fail(cls, failure: StepFailure, *, uncounted: bool = False) -> Outcome:
        """The run fails."""
        return cls(OutcomeKind.FAIL, failure=failure, uncounted=uncounted)

    @classmethod
    def park(cls, wake_at: datetime, reason: str, child_run_id: str | None = None) -> Outcome:
        """Release the run until ``wake_at``."""
        return cls(OutcomeKind.PARK, wake_at=wake_at, reason=reason, child_run_id=child_run_id)
