"""The map step: one item step per element, a bounded number at a time.

Items are resolved once, when the map step starts, and saved in its params, so that a
resumed run maps over exactly the same items. Each item is a step row named
``map[index]`` with its own attempts; a resumed map runs only the items not yet
completed. Cancellation is checked before each item starts; after an item fails for
good, no new item starts and the map fails once the running ones end.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from spine.core.errors import ErrorCategory, InvalidInput
from spine.core.ids import new_id
from spine.orchestration.errors import RunCancelled
from spine.orchestration.history.types import StepRun, StepStatus
from spine.orchestration.steps import Step

if TYPE_CHECKING:
    from spine.orchestration.runner import _Execution, _Outcome


def run_map(execution: _Execution, step: Step, index: int, latest: StepRun | None) -> _Outcome:
    """Run (or resume) a map step and return its outcome."""
    from spine.orchestration.runner import _json_dict, _Kind, _Outcome, describe
    from spine.orchestration.store import StepFailure

    item_step = step.item_step
    assert item_step is not None
    if latest is not None and latest.status is StepStatus.FAILED:
        category = ErrorCategory(latest.error_category or ErrorCategory.INTERNAL.value)
        failure = StepFailure(
            error=latest.error or "map failed",
            category=category.value,
            retryable=category.retryable,
        )
        return _Outcome(_Kind.FAIL, failure=failure)
    if latest is not None and latest.status is StepStatus.RUNNING:
        record = latest
        items = list(record.input_params.get("items", []))
    else:
        record = StepRun(
            step_id=new_id(),
            run_id=execution.run.run_id,
            step_name=step.name,
            step_type=step.type.value,
            step_order=index,
        )
        try:
            items = resolve_items(step, execution)
            record.input_params = _json_dict({"items": items, "count": len(items)}, "items")
            # Items as saved, so a first run sees what a resumed one reads back.
            items = list(record.input_params["items"])
        except Exception as error:  # the user's items callable, or items that are not JSON
            failure = describe(error)
            execution.start(record)
            execution.finish(record, StepStatus.FAILED, failure=failure)
            return _Outcome(_Kind.FAIL, failure=failure)
        execution.start(record)

    attempts: dict[int, list[StepRun]] = defaultdict(list)
    prefix = f"{step.name}["
    for name, rows in execution.history.items():
        if name.startswith(prefix) and name.endswith("]"):
            attempts[int(name[len(prefix) : -1])].extend(rows)
    results: list[Any] = [None] * len(items)
    pending: list[int] = []
    for position in range(len(items)):
        rows = attempts.get(position, [])
        if rows and rows[-1].status is StepStatus.COMPLETED:
            results[position] = rows[-1].output_data
        else:
            pending.append(position)

    stop = threading.Event()
    failures: dict[int, Any] = {}
    cancelled = threading.Event()

    def run_item(position: int) -> None:
        if stop.is_set():
            return
        if execution.cancel_requested():
            cancelled.set()
            stop.set()
            return
        try:
            outcome = execution.leaf(
                item_step,
                f"{step.name}[{position}]",
                index,
                attempts.get(position, []),
                counts_for_run=False,
                item=items[position],
                item_index=position,
                park_backoff=False,
            )
        except RunCancelled:  # seen while recording this thread's previous item
            cancelled.set()
            stop.set()
            return
        if outcome.kind is _Kind.DONE:
            results[position] = dict(outcome.outputs)
        else:
            failures[position] = outcome.failure
            stop.set()

    if pending:
        with ThreadPoolExecutor(
            max_workers=min(step.concurrency, len(pending)), thread_name_prefix=f"map-{step.name}"
        ) as pool:
            queue = iter(pending)
            running: set[Future[None]] = set()
            for position in queue:
                running.add(pool.submit(run_item, position))
                if len(running) >= step.concurrency:
                    break
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()  # a lost lease or a database error ends the map
                for position in queue:
                    if stop.is_set():
                        break
                    running.add(pool.submit(run_item, position))
                    if len(running) >= step.concurrency:
                        break

    # Items completed last in each thread wait for a next start that will not come.
    execution.flush_items()
    if cancelled.is_set():
        return _Outcome(_Kind.CANCEL, failure=describe(RunCancelled(execution.run.run_id)))
    if failures:
        first = min(failures)
        cause = failures[first]
        failure = type(cause)(
            error=f"item {first} failed: {cause.error}",
            category=cause.category,
            retryable=cause.retryable,
        )
        execution.finish(
            record,
            StepStatus.FAILED,
            failure=failure,
            outputs={"failed_items": sorted(failures), "count": len(items)},
        )
        return _Outcome(_Kind.FAIL, failure=failure)
    outputs = {"results": results, "count": len(items)}
    execution.finish(record, StepStatus.COMPLETED, outputs=outputs)
    return _Outcome(_Kind.DONE, outputs)


def resolve_items(step: Step, execution: _Execution) -> list[Any]:
    """The items a map step runs over.

    Raises:
        InvalidInput: If the source is missing or is not a list.
    """
    source = step.items
    outputs: Mapping[str, Mapping[str, Any]] = execution.outputs
    if callable(source):
        value: Any = source(execution._context(step.name, 1))
    elif isinstance(source, str):
        value = _from_outputs(step.name, source, outputs)
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
