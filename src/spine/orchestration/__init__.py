"""Workflows as durable runs: definitions, registry, runner, worker and history."""

from spine.orchestration.context import (
    AlertSender,
    QualityChecker,
    SourceFetcher,
    StepContext,
    StepServices,
)
from spine.orchestration.registry import pipeline, pipelines, workflows
from spine.orchestration.retry import RetryPolicy
from spine.orchestration.steps import Step, StepType
from spine.orchestration.workflow import Workflow

__all__ = [
    "AlertSender",
    "QualityChecker",
    "RetryPolicy",
    "SourceFetcher",
    "Step",
    "StepContext",
    "StepServices",
    "StepType",
    "Workflow",
    "pipeline",
    "pipelines",
    "workflows",
]
