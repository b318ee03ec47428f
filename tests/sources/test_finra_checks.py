"""The FINRA example's quality stage: checks on the loaded table, incidents, first use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.errors import ConfigurationError
from spine.core.storage import create_database
from spine.examples.finra.checks import (
    CHECKS_FILE,
    CONNECTION,
    TABLE,
    connection_settings,
    declared_checks,
    ensure_checks,
    password_warning,
)
from spine.examples.finra.parsing import parse
from spine.examples.finra.workflow import SAMPLE_DIR
from tests.cli.spine_process import run_spine


def _run(tmp_path: Path, db_url: str, week: str) -> dict[str, Any]:
    """``spine run finra.weekly_ingest`` for ``week``; exit 0 if COMPLETED, else 1."""
    done = run_spine(
        "run",
        "finra.weekly_ingest",
        "--param",
        f"week_ending={week}",
        "--json",
        cwd=tmp_path,
        env={"SPINE_DATABASE_URL": db_url, "SPINE_APP": "spine.examples.finra"},
    )
    result: dict[str, Any] = json.loads(done.stdout)
    assert done.code == (0 if result["run"]["status"] == "COMPLETED" else 1), done.stderr
    return result


@pytest.fixture
def services(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.setenv("SPINE_DATABASE_URL", db_url)
    built = build(load_settings())
    yield built
    built.close()


def _total_shares(week: str) -> int:
    """A week's share volume, from the bundled files (parsed here, not by the checks)."""
    return sum(
        row["shares"]
        for tier in ("T1", "T2", "OTC")
        for row in parse(
            (SAMPLE_DIR / f"otc_{week}_{tier}.psv").read_text(encoding="utf-8"),
            date.fromisoformat(week),
        ).rows
    )


def _metrics(result: dict[str, Any]) -> dict[str, Any]:
    step = next(s for s in result["steps"] if s["step_name"] == "quality_check")
    metrics: dict[str, Any] = step["quality_metrics"]
    return metrics


def test_week_2025_01_24_opens_an_incident_and_a_good_week_resolves_it(
    tmp_path: Path, db_url: str, services: Services
) -> None:
    quality = services.quality
    assert _run(tmp_path, db_url, "2025-01-10")["run"]["status"] == "COMPLETED"
    assert quality.list_incidents() == []

    broken = _run(tmp_path, db_url, "2025-01-24")
    assert broken["run"]["status"] == "FAILED"
    results = _metrics(broken)["results"]
    # Four venues' Tier 1 reports are missing: 51 rows under the floor of 60.
    assert (results["finra.rows_t1"]["sensor_value"], results["finra.rows_t1"]["rule_passed"]) == (
        51,
        False,
    )
    # Its volume moved, but less than the warning's 25 %: computed from the files here.
    expected = 100 * (_total_shares("2025-01-24") - _total_shares("2025-01-10"))
    expected /= _total_shares("2025-01-10")
    assert results["finra.volume_swing"]["sensor_value"] == pytest.approx(expected, rel=1e-12)
    assert -25 < expected < -10 and results["finra.volume_swing"]["rule_passed"]
    opened = {i.check_name: i for i in quality.list_incidents(status="open")}
    assert set(opened) == {"finra.rows_t1", "finra.venues_t1"}
    assert opened["finra.rows_t1"].severity.value == "error"
    assert opened["finra.venues_t1"].severity.value == "warning"

    good = _run(tmp_path, db_url, "2025-01-31")
    assert good["run"]["status"] == "COMPLETED"
    assert good["run"]["outputs"]["checks"] == {"checks": 10, "passed": 10, "failed": 0}
    swing = 100 * (_total_shares("2025-01-31") - _total_shares("2025-01-24"))
    swing /= _total_shares("2025-01-24")
    assert _metrics(good)["results"]["finra.volume_swing"]["sensor_value"] == pytest.approx(
        swing, rel=1e-12
    )
    # One pass of the two in a row (the default) that resolve an incident: still open.
    assert {i.check_name for i in quality.list_incidents(status="open")} == set(opened)

    again = quality.run_checks(table=TABLE, connection=CONNECTION, triggered_by="cli")
    assert all(o.result.rule_passed for o in again)
    assert quality.list_incidents(status="open") == []
    resolved = quality.list_incidents(status="resolved")
    assert {i.check_name for i in resolved} == set(opened)
    assert {str(i.id) for i in resolved} == {str(i.id) for i in opened.values()}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_first_use_creates_missing_checks_and_keeps_what_the_user_changed(
    tmp_path: Path, db_url: str, services: Services
) -> None:
    _run(tmp_path, db_url, "2025-01-10")
    quality = services.quality
    names = [spec.name for spec in declared_checks()]
    assert sorted(c.name for c in quality.list_checks()) == sorted(names)
    connection = services.sources.connections.get(CONNECTION)
    assert connection.dialect == "sqlite"
    assert connection.database == str(Path(db_url.removeprefix("sqlite:///")).resolve())

    # The file is `spine checks apply`'s format: applied as it is, it changes nothing.
    applied = run_spine(
        "checks",
        "apply",
        str(CHECKS_FILE),
        "--dry-run",
        cwd=tmp_path,
        env={"SPINE_DATABASE_URL": db_url},
    )
    assert applied.code == 0, applied.stderr
    assert f"= {len(names)} unchanged" in applied.stdout

    quality.update_check("finra.rows_t1", {"config": {"min": 1, "filter": "tier = 'T1'"}})
    quality.remove_check("finra.mpid_format")
    assert ensure_checks(quality) == ["finra.mpid_format"]  # only the missing one
    assert ensure_checks(quality) == []
    assert quality.get_check("finra.rows_t1").config == {"min": 1, "filter": "tier = 'T1'"}

    # A run uses the changed check as it is: 51 T1 rows pass a floor of 1.
    broken = _run(tmp_path, db_url, "2025-01-24")
    assert _metrics(broken)["results"]["finra.rows_t1"]["rule_passed"] is True
    assert len(quality.list_checks()) == len(names)


def test_the_connection_is_spines_own_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = create_database("sqlite:///here.db")
    assert connection_settings(relative) == {
        "dialect": "sqlite",
        "database": str(tmp_path / "here.db"),
    }
    with pytest.raises(ConfigurationError, match="in a file"):
        connection_settings(create_database("sqlite://"))
    server = create_database("postgresql+psycopg://etl:s3cret@db.example:6543/spine")
    settings = connection_settings(server)
    assert settings == {
        "dialect": "postgresql",
        "host": "db.example",
        "port": 6543,
        "database": "spine",
        "username": "etl",
    }
    assert "s3cret" not in json.dumps(settings)  # a connection holds a reference, never this
    warning = password_warning(server)
    assert warning is not None and "PGPASSWORD" in warning and "s3cret" not in warning
    assert password_warning(relative) is None
