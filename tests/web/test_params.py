"""A page's query parameter naming a member of a list."""

from __future__ import annotations

import pytest

from spine.core.errors import InvalidInput
from spine.orchestration.history import WorkflowStatus
from spine.tenancy import AuditAction
from spine.web.params import optional_choice


def test_a_choice_is_read_in_any_case_and_empty_means_none() -> None:
    assert optional_choice(WorkflowStatus, " failed ", "status") is WorkflowStatus.FAILED
    assert optional_choice(AuditAction, "CREATE", "action") is AuditAction.CREATE
    assert optional_choice(WorkflowStatus, "  ", "status") is None
    assert optional_choice(WorkflowStatus, None, "status") is None


def test_an_unknown_choice_names_the_ones_there_are() -> None:
    with pytest.raises(InvalidInput, match=r"unknown status 'DONE': one of PENDING, "):
        optional_choice(WorkflowStatus, "DONE", "status")
