"""A workflow: a named, versioned sequence of steps, and the registry it joins."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from spine.core.errors import InvalidInput
from spine.orchestration.errors import WorkflowDefinedTwice, WorkflowNotFound
from spine.orchestration.params import declared_types
from spine.orchestration.steps import Step


@dataclass(frozen=True, slots=True, init=False)
class Workflow:
    """A named sequence of steps, registered by name when defined.

    Args:
        name: The workflow's name, e.g. ``finra.weekly_ingest``.
        steps: The steps, run in order (a choice step may jump forward).
        domain: The data domain its runs belong to.
        version: The definition's version, recorded on every run.
        params: Types of run params, e.g. ``{"week_ending": date, "limit": int}``: a
            declared param is read as its type when a run is made (``--param
            limit=10`` is the int 10, ``--param limit=ten`` is refused). Optional, and
            params not declared pass as given (``spine.orchestration.params``).
        registry: Where to register it (the default registry when ``None``);
            pass ``register=False`` to keep it out of every registry.

    Raises:
        InvalidInput: If there are no steps, two steps share a name, or a param is
            declared with a type other than str, int, float, bool, date, datetime,
            list or dict.
        WorkflowDefinedTwice: If the registry has another workflow of this name,
            defined elsewhere.
    """

    name: str
    steps: tuple[Step, ...]
    domain: str | None = None
    version: int = 1
    params: dict[str, type] = field(default_factory=dict)
    #: ``file:line`` of the code that defined it: names both places when a name is
    #: defined twice.
    defined_at: str | None = field(default=None, compare=False)
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __init__(
        self,
        name: str,
        steps: Sequence[Step],
        domain: str | None = None,
        version: int = 1,
        *,
        params: Mapping[str, type] | None = None,
        registry: WorkflowRegistry | None = None,
        register: bool = True,
    ) -> None:
        if not name:
            raise InvalidInput("a workflow needs a name")
        if not steps:
            raise InvalidInput(f"workflow {name!r} has no steps")
        index: dict[str, int] = {}
        for position, step in enumerate(steps):
            if not isinstance(step, Step):
                raise InvalidInput(f"workflow {name!r}: step {position} is not a Step")
            if step.name in index:
                raise InvalidInput(f"workflow {name!r}: two steps are named {step.name!r}")
            index[step.name] = position
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "steps", tuple(steps))
        object.__setattr__(self, "domain", domain)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "params", declared_types(name, params))
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "defined_at", _caller())
        if register:
            (registry or workflows).register(self)

    def position(self, step_name: str) -> int | None:
        """The index of the step named ``step_name``, or ``None``."""
        return self._index.get(step_name)


def _caller() -> str | None:
    """``file:line`` of the code that called ``Workflow(...)``."""
    frame = sys._getframe(2)  # _caller <- Workflow.__init__ <- the definition
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else None


class WorkflowRegistry:
    """Workflows by name; one name, one definition.

    The same definition registered again (its module imported a second time, the same
    line run again) replaces the first; a workflow defined elsewhere under a name
    already taken is an error, rather than one of them silently winning.
    """

    def __init__(self) -> None:
        self._workflows: dict[str, Workflow] = {}
        self._lock = threading.Lock()

    def register(self, workflow: Workflow) -> None:
        """Add a workflow, or replace the same definition registered before.

        Raises:
            WorkflowDefinedTwice: If a workflow of this name, defined at another place
                (or at an unknown one), is registered already.
        """
        with self._lock:
            known = self._workflows.get(workflow.name)
            if (
                known is not None
                and known is not workflow
                and (known.defined_at is None or known.defined_at != workflow.defined_at)
            ):
                raise WorkflowDefinedTwice(workflow.name, known.defined_at, workflow.defined_at)
            self._workflows[workflow.name] = workflow

    def all(self) -> list[Workflow]:
        """Every registered workflow, by name."""
        with self._lock:
            return [self._workflows[name] for name in sorted(self._workflows)]

    def get(self, name: str) -> Workflow:
        """Return the workflow named ``name``.

        Raises:
            WorkflowNotFound: If none is registered under that name.
        """
        try:
            return self._workflows[name]
        except KeyError:
            raise WorkflowNotFound(name, list(self._workflows)) from None

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._workflows)

    def __contains__(self, name: object) -> bool:
        return name in self._workflows


workflows = WorkflowRegistry()
