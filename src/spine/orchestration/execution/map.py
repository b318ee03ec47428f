"""Map steps: one item step per element, a bounded number at a time.

Items are resolved once, when the map step starts, and saved in its params, so that a
resumed run maps over exactly the same items. Each item is a step row named
``map[index]`` with its own attempts; a resumed map runs only the items not yet
completed. Cancellation is checked before each item starts; after an item fails for
good, no new item starts and the map fails once the running ones end.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from spine.core.errors import InvalidInput
from spine.core.ids import new_id
from spine.orchestration.errors import RunCancelled
from spine.orchestration.execution.failures import describe, recorded_failure
from spine.orchestration.execution.handler import RunScope
from spine.orchestration.execution.leaf import run_attempts
from spine.orchestration.execution.outcome import Outcome, OutcomeKind
from spine.orchestration.execution.values import json_dict
from spine.orchestration.history.types import StepRun, StepStatus
from spine.orchestration.models import FinishedStep, StepFailure
from spine.orchestration.steps import Step


class MapHandler:
    """Runs (or resumes) a map step."""

    def run(self, scope: RunScope, step: Step, index: int, attempts: Sequence[StepRun]) -> Outcome:
        """Run the items not yet completed; the map completes when all have."""
        item_step = step.item_step
        assert item_step is not None
        latest = attempts[-1] if attempts else None
        if latest is not None and latest.status is StepStatus.FAILED:
            return Outcome.fail(recorded_failure(latest, "map failed"))
        if latest is not None and latest.status is StepStatus.RUNNING:
            record = latest
            items = list(record.input_params.get("items", []))
        else:
            record = StepRun(
                step_id=new_id(),
                run_id=scope.run.run_id,
                step_name=step.name,
                step_type=step.type.value,
                step_order=index,
            )
            try:
                items = resolve_items(step, scope)
                record.input_params = json_dict({"items": items, "count": len(items)}, "map")
                # Items as saved, so a first run sees what a resumed one reads back.
                items = list(record.input_params["items"])
            except Exception as error:  # the user's items callable, or items not JSON
                failure = describe(error)
                scope.recorder.start(record)
                scope.recorder.finish(
                    FinishedStep(step=record, status=StepStatus.FAILED, failure=failure)
                )
                return Outcome.fail(failure)
            scope.recorder.start(record)
        return _Fanout(scope, step, item_step, index, items).run(record)


class _Fanout:
    """The items of one map step being run by a bounded pool of threads."""

    def __init__(
        self, scope: RunScope, step: Step, item_step: Step, index: int, items: list[Any]
    ) -> None:
        self.scope = scope
        self.step = step
        self.item_step = item_step
        self.index = index
        self.items = items
        self.attempts: dict[int, list[StepRun]] = defaultdict(list)
        prefix = f"{step.name}["
        for name, rows in scope.history.items():
            if name.startswith(prefix) and name.endswith("]"):
                self.attempts[int(name[len(prefix) : -1])].extend(rows)
        self.results: list[Any] = [None] * len(items)
        self.failures: dict[int, StepFailure] = {}
        self.stop = threading.Event()
        self.cancelled = threading.Event()
        self.parked: Outcome | None = None  # an item's retry waits, and the worker stops

    def run(self, record: StepRun) -> Outcome:
        pending = []
        for position in range(len(self.items)):
            rows = self.attempts.get(position, [])
            if rows and rows[-1].status is StepStatus.COMPLETED:
                self.results[position] = rows[-1].output_data
            else:
                pending.append(position)
        if pending:
            self._run_pending(pending)
        # Items completed last in each thread wait for a next start that will not come.
        self.scope.recorder.flush_items()
        count = len(self.items)
        if self.cancelled.is_set():
            failure = describe(RunCancelled(self.scope.run.run_id))
            return Outcome(OutcomeKind.CANCEL, failure=failure)
        if self.parked is not None and not self.failures:
            return self.parked
        if self.failures:
            first = min(self.failures)
            cause = self.failures[first]
            failure = StepFailure(
                error=f"item {first} failed: {cause.error}",
                category=cause.category,
                retryable=cause.retryable,
            )
            self.scope.recorder.finish(
                FinishedStep(
                    step=record,
                    status=StepStatus.FAILED,
                    failure=failure,
                    outputs={"failed_items": sorted(self.failures), "count": count},
                )
            )
            return Outcome.fail(failure)
        outputs = {"results": self.results, "count": count}
        self.scope.recorder.complete(record, outputs)
        return Outcome.done(outputs)

    def _run_pending(self, pending: list[int]) -> None:
        """Run the pending items on at most ``concurrency`` threads, in item order.

        Each thread takes the next item until none is left or the map stops, keeping one
        write connection while it works. An error that is not the item's own (a lost
        lease, a database error) stops the other threads and ends the map.
        """
        queue = deque(pending)

        def drain() -> None:
            try:
                with self.scope.store.db.pinned():
                    while not self.stop.is_set():
                        try:
                            position = queue.popleft()
                        except IndexError:
                            return
                        self._run_item(position)
            except BaseException:
                self.stop.set()
                raise

        threads = min(self.step.concurrency, len(pending))
        with ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix=f"map-{self.step.name}"
        ) as pool:
            drains = [pool.submit(drain) for _ in range(threads)]
        for future in drains:
            future.result()

    def _run_item(self, position: int) -> None:
        if self.stop.is_set():
            return
        if self.scope.lease.cancel_requested:
            self.cancelled.set()
            self.stop.set()
            return
        try:
            outcome = run_attempts(
                self.scope,
                self.item_step,
                f"{self.step.name}[{position}]",
                self.index,
                self.attempts.get(position, []),
                counts_for_run=False,
                item=self.items[position],
                item_index=position,
                park_backoff=False,
            )
        except RunCancelled:  # seen while recording this thread's previous item
            self.cancelled.set()
            self.stop.set()
            return
        if outcome.kind is OutcomeKind.DONE:
            self.results[position] = dict(outcome.outputs)
        elif outcome.kind is OutcomeKind.CANCEL:
            self.cancelled.set()
            self.stop.set()
        elif outcome.kind is OutcomeKind.PARK:
            self.parked = outcome
            self.stop.set()
        else:
            assert outcome.failure is not None
            self.failures[position] = outcome.failure
            self.stop.set()


def resolve_items(step: Step, scope: RunScope) -> list[Any]:
    """The items a map step runs over.

    Raises:
        InvalidInput: If the source is missing or is not a list.
    """
    source = step.items
    if callable(source):
        value: Any = source(scope.context(step.name, 1))
    elif isinstance(source, str):
        value = _from_outputs(step.name, source, scope.outputs)
    else:
        raise InvalidInput(f"map {step.name!r}: items must be a callable or a name")
    if (
        isinstance(value, Mapping)
        or not isinstance(value, Sequence)
        or isinstance(value, str | bytes)
    ):
        raise InvalidInput(f"map {step.name!r}: items must be a list, got {type(value).__name__}")
    return list(value)


def _from_outputs(map_name: str, source: str, outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    if "." in source:
        step_name, key = source.split(".", 1)
        if step_name in outputs and key in outputs[step_name]:
            return outputs[step_name][key]
    if source in outputs:
        value = outputs[source]
        if "items" in value:
            return value["items"]
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
        raise InvalidInput(
            f"map {map_name!r}: outputs of step {source!r} have no single "
            "list; name it as 'step.key'"
        )
    for step_outputs in reversed(list(outputs.values())):
        if source in step_outputs:
            return step_outputs[source]
    raise InvalidInput(f"map {map_name!r}: no earlier step output named {source!r}")
