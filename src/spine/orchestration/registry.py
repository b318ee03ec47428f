"""Where workflows and pipelines are found by name.

Registration happens by importing the user's module (``spine --app MODULE`` or
``SPINE_APP``): defining a :class:`~spine.orchestration.workflow.Workflow` or decorating a
function with :func:`pipeline` registers it in the default registries below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from spine.orchestration.errors import PipelineNotFound

# The workflow registry lives beside `Workflow`, which registers itself when defined;
# importing it from here keeps one place to find both registries.
from spine.orchestration.workflow import WorkflowRegistry, workflows

if TYPE_CHECKING:
    from spine.orchestration.context import StepContext

PipelineFn = Callable[["StepContext"], "Mapping[str, Any] | None"]
F = TypeVar("F", bound=PipelineFn)

__all__ = [
    "PipelineFn",
    "PipelineRegistry",
    "WorkflowRegistry",
    "pipeline",
    "pipelines",
    "workflows",
]


class PipelineRegistry:
    """Pipelines (reusable units of data work) by name."""

    def __init__(self) -> None:
        self._pipelines: dict[str, PipelineFn] = {}

    def register(self, name: str, fn: PipelineFn) -> None:
        """Add or replace a pipeline."""
        self._pipelines[name] = fn

    def get(self, name: str) -> PipelineFn:
        """Return the pipeline named ``name``.

        Raises:
            PipelineNotFound: If none is registered under that name.
        """
        try:
            return self._pipelines[name]
        except KeyError:
            raise PipelineNotFound(name) from None

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._pipelines)


pipelines = PipelineRegistry()


def pipeline(name: str, registry: PipelineRegistry | None = None) -> Callable[[F], F]:
    """Register the decorated function as the pipeline ``name``.

    The function takes the step context (``ctx.params`` holds the run's params updated
    with the step's) and returns a dict of outputs or None; a ``row_count`` key in its
    outputs is recorded as the execution's and the step's row count.
    """

    def decorate(fn: F) -> F:
        (registry or pipelines).register(name, fn)
        return fn

    return decorate
