"""Spine: data pipelines as durable workflows, with their whole history kept in SQL.

``from spine import Workflow, Step, RetryPolicy, pipeline`` is the way to define work;
the names load on first use so that ``import spine`` (and the CLI) start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from spine.orchestration import RetryPolicy, Step, StepContext, Workflow, pipeline

_LAZY = {"Workflow", "Step", "RetryPolicy", "StepContext", "pipeline"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from spine import orchestration

        return getattr(orchestration, name)
    raise AttributeError(f"module 'spine' has no attribute {name!r}")


__all__ = ["RetryPolicy", "Step", "StepContext", "Workflow", "__version__", "pipeline"]
