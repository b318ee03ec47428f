"""Which command an argument list names: only that command's module is imported."""

from __future__ import annotations

import pytest

from spine.cli.main import command_named


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["run", "one"], "run"),
        (["--database-url", "sqlite:///x.db", "runs", "list"], "runs"),
        (["--app", "run", "db", "upgrade"], "db"),
        (["--app=mod", "alerts", "deliver"], "alerts"),
        (["--version"], None),
        ([], None),
        (["--help", "run"], None),
        (["--", "run"], None),
        (["nosuch"], "nosuch"),
    ],
)
def test_command_named_skips_global_options_and_their_values(
    args: list[str], name: str | None
) -> None:
    assert command_named(args) == name
