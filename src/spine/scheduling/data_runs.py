"""The runs made for logical times: by a fire, ``schedules trigger`` and ``backfill``.

Each is a :class:`PlannedRun`: the data interval (stored as the run's partition key), the
params rendered for it, and the idempotency key that makes it once per workflow and
logical time. Pure: the scheduler and the CLI create the runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from spine.core.errors import InvalidInput
from spine.orchestration.data_interval import DataInterval
from spine.orchestration.history.types import WorkflowRun
from spine.orchestration.runner import WorkflowRunner
from spine.scheduling.cron import zone
from spine.scheduling.intervals import (
    data_interval,
    every_between,
    every_interval,
    every_key,
    fire_key,
    times_between,
)
from spine.scheduling.models import Schedule
from spine.scheduling.templates import compile_params, render_params
from spine.scheduling.triggers import trigger_for

#: Most logical times one backfill makes without ``--max-runs``.
DEFAULT_MAX_RUNS = 10_000


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """One run to make for a logical time."""

    interval: DataInterval
    params: dict[str, Any]
    key: str

    def to_dict(self) -> dict[str, Any]:
        """The logical time, interval, params and key (``--dry-run --json``)."""
        return {**self.interval.to_dict(), "params": self.params, "idempotency_key": self.key}


def for_schedule(schedule: Schedule, logical_time: datetime) -> PlannedRun:
    """The run a fire of ``schedule`` at ``logical_time`` makes.

    Raises:
        InvalidInput: If a param template cannot be rendered.
    """
    interval = data_interval(schedule, logical_time)
    params = render_params(schedule.params, interval, zone(schedule.timezone))
    return PlannedRun(interval, params, fire_key(schedule.name, interval.logical_time))


def new_schedule_run(
    runner: WorkflowRunner, schedule: Schedule, logical_time: datetime, *, manual: bool = False
) -> tuple[WorkflowRun, PlannedRun]:
    """The run (not yet written) of ``schedule`` for ``logical_time``, and its plan.

    It carries the logical time's data interval, the params rendered for it, and the key
    that makes one run per schedule and logical time, whoever asks for it: the scheduler
    (``manual=False``) or ``spine schedules trigger``.
    """
    planned = for_schedule(schedule, logical_time)
    run = runner.new_run(
        schedule.target_name,
        planned.params,
        partition_key=planned.interval.partition_key(),
        idempotency_key=planned.key,
        triggered_by="manual" if manual else "schedule",
        schedule_id=schedule.id,
        created_by=f"{'trigger' if manual else 'schedule'}:{schedule.name}",
    )
    return run, planned


def schedule_backfill(
    schedule: Schedule, start: datetime, end: datetime, *, max_runs: int = DEFAULT_MAX_RUNS
) -> list[PlannedRun]:
    """One run per fire time of ``schedule`` in ``[start, end]``.

    Raises:
        InvalidInput: If ``end`` is before ``start``, there are more than ``max_runs``
            times, or a template cannot be rendered.
    """
    _check_range(start, end)
    times = _bounded(times_between(trigger_for(schedule), start, end), max_runs)
    return [for_schedule(schedule, when) for when in times]


def every_backfill(
    seconds: int,
    params: Mapping[str, Any],
    timezone: str,
    start: datetime,
    end: datetime,
    *,
    max_runs: int = DEFAULT_MAX_RUNS,
) -> list[PlannedRun]:
    """One run per ``start + k * every`` up to ``end``, each covering ``[t - every, t)``.

    The key holds the span and a digest of the params as given (templates unrendered),
    so the same command run again makes nothing new, and a backfill with other params
    is other runs.

    Raises:
        InvalidInput: As :func:`schedule_backfill`, or for a malformed template.
    """
    _check_range(start, end)
    compile_params(params)
    tz = zone(timezone)
    digest = params_digest(params)
    plans = []
    for when in _bounded(every_between(seconds, start, end), max_runs):
        interval = every_interval(seconds, when)
        plans.append(
            PlannedRun(
                interval, render_params(params, interval, tz), every_key(seconds, digest, when)
            )
        )
    return plans


def params_digest(params: Mapping[str, Any]) -> str:
    """The first 16 hex digits of the SHA-256 of ``params`` as canonical JSON."""
    text = json.dumps(dict(params), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_range(start: datetime, end: datetime) -> None:
    if end < start:
        raise InvalidInput(f"--to {end.isoformat()} is before --from {start.isoformat()}")


def _bounded(times: Iterator[datetime], max_runs: int) -> list[datetime]:
    taken = list(islice(times, max_runs + 1))
    if len(taken) > max_runs:
        raise InvalidInput(
            f"more than {max_runs} logical times between --from and --to; "
            "narrow the range or raise --max-runs"
        )
    return taken
