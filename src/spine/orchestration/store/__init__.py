"""The workflow engine's store: the only part of orchestration that speaks SQL.

``RunStore`` extends spec 002's ``HistoryStore`` with the durable engine's transitions
(``transitions.py``) and cancellation (``cancellation.py``); the per-step statements are
prepared in ``statements.py``.
"""

from spine.orchestration.store.cancellation import RunStore
from spine.orchestration.store.statements import ACTIVE, INTERRUPTED
from spine.orchestration.store.transitions import (
    Claim,
    RunTransitions,
    StepFailure,
    insert_run,
    insert_runs,
)

__all__ = [
    "ACTIVE",
    "INTERRUPTED",
    "Claim",
    "RunStore",
    "RunTransitions",
    "StepFailure",
    "insert_run",
    "insert_runs",
]
