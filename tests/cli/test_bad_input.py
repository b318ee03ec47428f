"""Bad input gets one clear line on stderr and exit code 2: no traceback, no password."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cli.spine_process import Completed, invoke_spine, run_spines

PASSWORD = "s3cretpw"


@dataclass(frozen=True, slots=True)
class Case:
    """One bad invocation: its arguments, environment and files, and what the error names."""

    args: list[str]
    names: str
    env: dict[str, str] | None = None
    files: dict[str, str] = field(default_factory=dict)


CASES = {
    "malformed url": Case(
        ["--database-url", "not-a-url", "db", "status"], "malformed database URL 'not-a-url'"
    ),
    "malformed port": Case(
        ["--database-url", f"postgresql://bob:{PASSWORD}@localhost:5432x/spine", "db", "status"],
        "malformed database URL",
    ),
    "unreachable server": Case(
        ["db", "status"],
        "cannot reach database",
        env={"SPINE_DATABASE_URL": f"postgresql://bob:{PASSWORD}@127.0.0.1:1/spine"},
    ),
    "unsupported database": Case(
        ["--database-url", f"mysql://bob@localhost/spine?password={PASSWORD}", "db", "upgrade"],
        "unsupported database 'mysql'",
    ),
    "unknown tier": Case(
        ["--database-url", "sqlite:///spine.db", "db", "upgrade", "--tier", "expert"],
        "unknown tier 'expert'",
    ),
    "unknown tier that looks like markup": Case(
        ["db", "sql", "--dialect", "sqlite", "--tier", "[/bold]"], "unknown tier '[/bold]'"
    ),
    "unknown dialect": Case(["db", "sql", "--dialect", "oracle"], "unknown dialect 'oracle'"),
    "partitions on sqlite": Case(
        ["--database-url", "sqlite:///spine.db", "db", "partitions", "--months-ahead", "2"],
        "partitions exist only on PostgreSQL",
    ),
    "invalid setting": Case(
        ["db", "status"], "invalid setting pool_size", env={"SPINE_POOL_SIZE": "0"}
    ),
    "malformed spine.toml": Case(
        ["db", "status"],
        "cannot parse spine.toml",
        files={"spine.toml": f'database_url = "postgresql://bob:{PASSWORD}@db/spine\n'},
    ),
    # Usage errors found by the parser itself are one line too, with where to get help.
    "missing required option": Case(["db", "sql"], "Missing option '--dialect'"),
    "unknown option": Case(["db", "status", "--bogus"], "No such option: --bogus"),
    "unknown command": Case(["nocmd"], "No such command 'nocmd'"),
    "option of the wrong type": Case(
        ["runs", "list", "--limit", "abc"], "Invalid value for '--limit'"
    ),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Completed]:
    """Every case run once, side by side, each in its own working directory."""
    invocations = []
    for index, case in enumerate(CASES.values()):
        cwd = tmp_path_factory.mktemp(f"case{index}")
        for name, text in case.files.items():
            (cwd / name).write_text(text, encoding="utf-8")
        invocations.append((case.args, case.env, cwd))
    return dict(zip(CASES, run_spines(invocations, in_process=True), strict=True))


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_naming_the_problem_and_exit_2(
    outcomes: dict[str, Completed], case: str
) -> None:
    done = outcomes[case]

    assert "Traceback" not in done.stdout + done.stderr
    assert (done.code, done.stdout) == (2, "")
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert CASES[case].names in lines[0]


@pytest.mark.parametrize("case", [name for name, c in CASES.items() if PASSWORD in repr(c)])
def test_bad_input_never_shows_the_password(outcomes: dict[str, Completed], case: str) -> None:
    done = outcomes[case]

    assert PASSWORD not in done.stdout + done.stderr


def test_an_app_module_that_raises_on_import_gives_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken_app.py").write_text("raise RuntimeError('missing API token')\n")
    url = f"sqlite:///{tmp_path / 'spine.db'}"

    result = invoke_spine("--database-url", url, "--app", "broken_app", "run", "x", cwd=tmp_path)

    assert result.code == 2
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "broken_app" in lines[0] and "missing API token" in lines[0]
