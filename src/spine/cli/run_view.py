"""How runs' steps, events and logs are printed: tables for short runs, a summary for long.

A run of more than :data:`SUMMARY_ABOVE` step attempts is summarised (counts per status,
failed steps, retried steps, the slowest) instead of drawn row by row: drawing a
thousand-row table took longer than running the thousand steps. ``--all-steps`` prints
every row anyway.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from spine.cli.output import console, print_table, when

if TYPE_CHECKING:
    from spine.orchestration.history import StepRun, WorkflowEvent, WorkflowRun
    from spine.orchestration.history.types import StepLog

#: Runs with more step attempts than this are summarised unless --all-steps is given.
SUMMARY_ABOVE = 30
#: How many of the slowest steps a summary names.
SLOWEST = 5
#: How many failed or retried steps a summary names before it says "and N more".
NAMED = 10


def duration(run: WorkflowRun | StepRun) -> str:
    """A run's or an attempt's duration in seconds, blank while it has not finished."""
    seconds = run.duration_seconds
    return "" if seconds is None else f"{seconds:.3f}s"


def print_steps(steps: Sequence[StepRun], *, all_steps: bool = False) -> None:
    """Print a run's step attempts: every row, or a summary of a long run."""
    if len(steps) > SUMMARY_ABOVE and not all_steps:
        print_summary(steps)
        return
    print_table(
        None,
        ["order", "step", "type", "status", "attempt", "duration", "rows", "error"],
        [
            (
                s.step_order,
                s.step_name,
                s.step_type,
                s.status.value,
                f"{s.attempt}/{s.max_attempts}",
                duration(s),
                s.records_processed,
                (s.error or "")[:80],
            )
            for s in steps
        ],
    )


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:NAMED])
    more = len(names) - NAMED
    return f"{shown} and {more} more" if more > 0 else shown


def print_summary(steps: Sequence[StepRun]) -> None:
    """Print what a long run's attempts came to, in a few lines."""
    latest: dict[str, StepRun] = {}
    for step in steps:
        if step.step_name not in latest or step.attempt >= latest[step.step_name].attempt:
            latest[step.step_name] = step
    counts = Counter(s.status.value for s in latest.values())
    by_status = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    lines = [f"{len(latest)} steps ({len(steps)} attempts): {by_status}"]
    failed = [s.step_name for s in latest.values() if s.status.value == "FAILED"]
    if failed:
        lines.append(f"failed: {_names(failed)}")
    retried = [f"{s.step_name} ({s.attempt} attempts)" for s in latest.values() if s.attempt > 1]
    if retried:
        lines.append(f"retried: {_names(retried)}")
    timed = sorted(
        (s for s in steps if s.duration_seconds is not None),
        key=lambda s: s.duration_seconds or 0.0,
        reverse=True,
    )
    if timed:
        slowest = ", ".join(f"{s.step_name} {duration(s)}" for s in timed[:SLOWEST])
        lines.append(f"slowest: {slowest}")
    lines.append("(--all-steps prints every attempt)")
    console.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)


# The events a long run's summary leaves out: two per attempt, and nothing went wrong.
_ROUTINE_EVENTS = frozenset({"step.started", "step.completed"})


def print_events(
    events: Sequence[WorkflowEvent], steps: Sequence[StepRun], *, all_steps: bool = False
) -> None:
    """Print a run's events, naming each step (and its attempt) instead of its id.

    For a long run (one that :func:`print_steps` summarises) the routine events of its
    steps are counted, not drawn, unless ``all_steps``.
    """
    names = {s.step_id: f"{s.step_name} #{s.attempt}" for s in steps}
    shown = list(events)
    if len(steps) > SUMMARY_ABOVE and not all_steps:
        shown = [e for e in events if e.event_type not in _ROUTINE_EVENTS]
    print_table(
        "Events",
        ["id", "time", "event", "step"],
        [
            (e.id, when(e.timestamp), e.event_type, names.get(e.step_id or "", e.step_id))
            for e in shown
        ],
    )
    if len(shown) < len(events):
        console.print(
            f"({len(events) - len(shown)} step.started and step.completed events not shown; "
            "--all-steps prints them)",
            highlight=False,
            markup=False,
        )


def print_tracebacks(steps: Sequence[StepRun], out: TextIO | None = None) -> None:
    """Print the traceback of each failed attempt that has one, under a header line."""
    out = out or sys.stdout
    for step in steps:
        if step.status.value == "FAILED" and step.error_traceback:
            out.write(f"\nTraceback of {step.step_name} (attempt {step.attempt}):\n")
            out.write(step.error_traceback.rstrip("\n") + "\n")


def log_line(when: str, level: str, step: str, attempt: int, message: str) -> str:
    """One printed log line: ``time level step[attempt] message`` (times in UTC)."""
    return f"{when[:23].replace('T', ' ')} {level:<7} {step}[{attempt}] {message}"


def print_logs(logs: Sequence[StepLog], out: TextIO | None = None) -> None:
    """Print the kept lines of attempts, one per line."""
    out = out or sys.stdout
    for log in logs:
        for logged, level, message in log.lines:
            out.write(log_line(logged, level, log.step_name, log.attempt, message) + "\n")
    out.flush()


class _StderrLines(logging.Handler):
    """Writes ``ctx.log`` records to stderr as ``runs logs`` prints them, or as JSON."""

    def __init__(self, as_json: bool) -> None:
        from spine.core.log_format import JsonFormatter

        super().__init__()
        self.json = JsonFormatter() if as_json else None

    def emit(self, record: logging.LogRecord) -> None:
        from spine.orchestration.logs import format_record, record_time

        if self.json is not None:
            line = self.json.format(record)
        else:
            line = log_line(
                record_time(record),
                record.levelname,
                str(getattr(record, "step_name", "?")),
                int(getattr(record, "attempt", 0)),
                format_record(record),
            )
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed: the run goes on
            pass


@contextmanager
def streamed_step_logs(log_format: str = "text") -> Iterator[None]:
    """Print the steps' ``ctx.log`` lines on stderr while the block runs a workflow.

    Lines look like ``runs logs`` prints them, or like every other log record with
    ``--log-format json``. The records do not also reach the root logger's handler
    meanwhile, so that a line is printed once whatever ``SPINE_LOG_LEVEL`` is; stdout
    (``--json``) is left alone.
    """
    from spine.orchestration.logs import STEP_LOGGER

    logger = logging.getLogger(STEP_LOGGER)
    handler = _StderrLines(as_json=log_format == "json")
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
