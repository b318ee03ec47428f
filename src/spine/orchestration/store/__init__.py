"""The workflow engine's store: the only part of orchestration that speaks SQL.

:class:`RunStore` extends spec 002's ``HistoryStore`` with the durable engine's
transitions. Its SQL is split by concern: ``runs.py`` (created, claimed, parked,
finished), ``steps.py`` (attempts), ``lease.py`` (lease checks), ``cancellation.py``;
the statements every step runs are prepared in ``statements.py``.
"""

from spine.orchestration.store.run_store import INTERRUPTIBLE_TYPES, RunStore
from spine.orchestration.store.runs import ACTIVE, insert_run, insert_runs, runs_with_keys
from spine.orchestration.store.steps import INTERRUPTED

__all__ = [
    "ACTIVE",
    "INTERRUPTED",
    "INTERRUPTIBLE_TYPES",
    "RunStore",
    "insert_run",
    "insert_runs",
    "runs_with_keys",
]
