"""Workflow execution history (spec 002).

Usage::

    from spine.orchestration.history import HistoryStore, HistoryTracker, WorkflowRun, StepRun
"""

from spine.orchestration.history.store import HistoryStore, RunFilter, RunPage
from spine.orchestration.history.tracker import HistoryTracker, StepTracker, WorkflowTracker
from spine.orchestration.history.types import (
    RunStatistics,
    StepRun,
    StepStatus,
    WorkflowEvent,
    WorkflowRun,
    WorkflowStatus,
)

__all__ = [
    "HistoryStore",
    "HistoryTracker",
    "RunFilter",
    "RunPage",
    "RunStatistics",
    "StepRun",
    "StepStatus",
    "StepTracker",
    "WorkflowEvent",
    "WorkflowRun",
    "WorkflowStatus",
    "WorkflowTracker",
]
