"""Choice steps: a branch forward to a later step, or on to the next."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spine.core.errors import InvalidInput
from spine.orchestration.execution.handler import RunScope
from spine.orchestration.execution.leaf import run_attempts
from spine.orchestration.execution.outcome import Outcome, OutcomeKind
from spine.orchestration.history.types import StepRun
from spine.orchestration.steps import Step


class ChoiceHandler:
    """``fn(ctx)`` names a later step to go to (those between are SKIPPED), or None."""

    def run(self, scope: RunScope, step: Step, index: int, attempts: Sequence[StepRun]) -> Outcome:
        """Run the choice like a code step, then jump to its target."""

        def check(outputs: Mapping[str, Any]) -> None:
            target = outputs.get("next")
            if target is None:
                return
            position = scope.workflow.position(str(target))
            if position is None or position <= index:
                raise InvalidInput(
                    f"choice {step.name!r} chose {target!r}, which is not a later step of "
                    "the workflow"
                )

        outcome = run_attempts(
            scope, step, step.name, index, attempts, counts_for_run=True, check=check
        )
        if outcome.kind is not OutcomeKind.DONE:
            return outcome
        target = outcome.outputs.get("next")
        return Outcome.done(outcome.outputs, None if target is None else str(target))
