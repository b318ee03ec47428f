"""A run's step attempts as Gantt rows: one row a step, a bar an attempt, gaps as back-off."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from spine.orchestration.history import StepRun
from spine.web.charts import GanttRow, Span
from spine.web.formatting import human_duration

#: The most steps the chart draws (a map step has a row per item).
MAX_ROWS = 200


def timeline_rows(
    attempts: Sequence[StepRun], now: datetime, max_rows: int = MAX_ROWS
) -> tuple[list[GanttRow], int]:
    """The Gantt rows of a run's attempts (in execution order), and how many steps were left out.

    An attempt that never started has no bar; one still running ends at ``now``. The
    time between two attempts of a step (a retry's back-off, or the run parked) is a gap.
    """
    by_step: dict[str, list[StepRun]] = {}
    for attempt in attempts:
        by_step.setdefault(attempt.step_name, []).append(attempt)
    names = list(by_step)
    rows = [GanttRow(name, _spans(name, by_step[name], now)) for name in names[:max_rows]]
    return rows, max(len(names) - max_rows, 0)


def _spans(name: str, attempts: Sequence[StepRun], now: datetime) -> list[Span]:
    spans: list[Span] = []
    previous_end: datetime | None = None
    for attempt in sorted(attempts, key=lambda a: a.attempt):
        if attempt.started_at is None:
            continue
        start = attempt.started_at
        end = attempt.completed_at or max(now, start)
        status = attempt.status.value
        if previous_end is not None and start > previous_end:
            spans.append(
                Span(
                    previous_end,
                    start,
                    "WAITING",
                    f"{name}: waited {human_duration(start - previous_end)} "
                    f"before attempt {attempt.attempt} (retry back-off)",
                    kind="gap",
                )
            )
        waited = attempt.step_type == "wait"
        what = "waited" if waited else "took"
        text = (
            f"{name}, attempt {attempt.attempt} of {attempt.max_attempts}: {status}, "
            f"{what} {human_duration(end - start)}"
        )
        if attempt.completed_at is None:
            text += " so far"
        if attempt.error:
            text += f" ({attempt.error_category or 'error'}: {attempt.error[:120]})"
        spans.append(Span(start, end, status, text, kind="wait" if waited else "attempt"))
        previous_end = end
    return spans
