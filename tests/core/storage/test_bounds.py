"""``check_lengths``: text is checked against its column's width, read from the table."""

from __future__ import annotations

import pytest

from spine.core.errors import InvalidInput
from spine.core.storage.bounds import check_lengths, column_length
from spine.core.storage.schema.scheduler import core_schedules
from spine.core.storage.schema.workflow_history import core_workflow_runs


def test_the_limit_is_read_from_the_column() -> None:
    assert column_length(core_schedules, "name") == 200
    assert column_length(core_schedules, "timezone") == 64
    # TEXT on SQLite and PostgreSQL (VARCHAR only on DB2): no limit to check.
    assert column_length(core_workflow_runs, "partition_key") is None


def test_a_value_at_the_limit_passes_and_one_over_names_field_and_limit() -> None:
    check_lengths(core_schedules, {"name": "n" * 200}, what="schedule")
    with pytest.raises(InvalidInput) as refused:
        check_lengths(core_schedules, {"name": "n" * 201}, what="schedule")
    assert str(refused.value) == "schedule name is 201 characters long; the most is 200"


def test_a_label_replaces_the_column_name() -> None:
    with pytest.raises(InvalidInput, match=r"^workflow name is 300 characters"):
        check_lengths(
            core_schedules,
            {"target_name": "w" * 300},
            what="schedule",
            labels={"target_name": "workflow name"},
        )


def test_other_values_and_unknown_names_are_ignored() -> None:
    check_lengths(
        core_schedules,
        {"params": {"k": "v" * 1000}, "max_instances": 10**9, "created_by": None, "x": "x" * 999},
        what="schedule",
    )
    check_lengths(core_workflow_runs, {"partition_key": "p" * 10_000}, what="run")
