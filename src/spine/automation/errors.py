"""The part's own errors.

An object of another workspace raises the same error as a missing one, so that an API
key cannot learn what other workspaces hold.
"""

from __future__ import annotations

from spine.core.errors import NotFound, SpineError


class RuleNotFound(NotFound):
    """No rule of the workspace has this name or id."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"unknown rule {ref!r}: `spine automation rules list` shows them")


class EntityNotFound(NotFound):
    """The workspace watches no table of this name."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"table {ref!r} is not watched: `spine automation entities` shows them")


class TemplateNotFound(NotFound):
    """No action template of the workspace has this name or id."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"unknown action template {ref!r}")


class AlertNotFound(NotFound):
    """No alert of the workspace has this id, or the user is not among its recipients."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"unknown alert {ref!r}")


class ActionFailed(SpineError):
    """An action could not be done; the message says why, in one line.

    The execution records it and the rule's other actions still run.
    """
