"""What a step callable receives: the run's params, earlier outputs, attempt, a logger."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_log = logging.getLogger("spine.step")


@dataclass(slots=True)
class QualityReport:
    """The quality verdict an attempt records (spec 002's ``quality_passed``/``_metrics``)."""

    passed: bool | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepContext:
    """The context of one step attempt.

    Attributes:
        run_id: The workflow run's id.
        workflow_name: The workflow's name.
        step_name: This step's name (``map[3]`` for the fourth item of step ``map``).
        params: The run's parameters (for a pipeline, updated with the step's).
        outputs: Outputs of the steps completed so far, by step name (read-only).
        attempt: 1 for the first attempt, 2 for the first retry ...
        item: The item, inside a map; ``None`` elsewhere.
        item_index: The item's position, inside a map.
        partition_key: The run's partition key, if any.
        domain: The workflow's domain, if any.
        log: A logger whose records carry the run id and step name.
        quality: What :meth:`record_quality` recorded; written on the attempt's row.
    """

    run_id: str
    workflow_name: str
    step_name: str
    params: Mapping[str, Any]
    outputs: Mapping[str, Mapping[str, Any]]
    attempt: int = 1
    item: Any = None
    item_index: int | None = None
    partition_key: str | None = None
    domain: str | None = None
    log: logging.LoggerAdapter[logging.Logger] = field(init=False)
    quality: QualityReport = field(default_factory=QualityReport, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(
            self,
            "log",
            logging.LoggerAdapter(_log, {"run_id": self.run_id, "step_name": self.step_name}),
        )

    def record_quality(self, passed: bool, metrics: Mapping[str, Any] | None = None) -> None:
        """Record the attempt's quality verdict, as spec 002's ``StepTracker`` does.

        ``passed`` and ``metrics`` are saved in the step row's ``quality_passed`` and
        ``quality_metrics`` when the attempt ends, whether it completes or fails.
        """
        self.quality.passed = bool(passed)
        if metrics:
            self.quality.metrics.update(metrics)
