"""Workflows as durable runs: definitions, registry, runner, worker and history."""

from spine.orchestration.context import StepContext
from spine.orchestration.registry import pipeline, pipelines, workflows
from spine.orchestration.retry import RetryPolicy
from spine.orchestration.steps import Step, StepType
from spine.orchestration.workflow import Workflow

__all__ = [
    "RetryPolicy",
    "Step",
    "StepContext",
    "StepType",
    "Workflow",
    "pipeline",
    "pipelines",
    "workflows",
]
