"""The part's own errors: a missing check, incident or job (each a :class:`NotFound`).

An object of another workspace raises the same error as a missing one, so that an API
key cannot learn what other workspaces hold.
"""

from __future__ import annotations

from spine.core.errors import Conflict, NotFound


class CheckNotFound(NotFound):
    """No check of the workspace has this name or id."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"unknown check {ref!r}: `spine checks list` shows them")


class IncidentNotFound(NotFound):
    """No incident of the workspace has this id."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"unknown incident {ref!r}: `spine incidents list` shows them")


class JobNotFound(NotFound):
    """No check job of the workspace has this id."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"unknown job {ref!r}")


class ClaimLost(Conflict):
    """A worker's claim on a job ran out and another worker took it over.

    Raised inside the recording transaction so that nothing of the late run is kept:
    the job's new holder records the one result.
    """

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id}: the claim was lost to another worker; result dropped")
