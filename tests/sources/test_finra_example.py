"""The README's main job, end to end through the real ``spine`` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from spine.examples.finra.workflow import SAMPLE_DIR
from tests.cli.spine_process import run_spine


def _run(tmp_path: Path, db_url: str, *params: str) -> dict[str, Any]:
    args = [arg for p in params for arg in ("--param", p)]
    done = run_spine(
        "run",
        "finra.weekly_ingest",
        *args,
        "--json",
        cwd=tmp_path,
        env={"SPINE_DATABASE_URL": db_url, "SPINE_APP": "spine.examples.finra"},
    )
    assert done.code == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _run_here(db_url: str, monkeypatch: pytest.MonkeyPatch, **params: str) -> dict[str, Any]:
    """Run the workflow in this process (as a worker would), on ``db_url``."""
    import spine.examples.finra  # noqa: F401  (registers the workflow)
    from spine.bootstrap import build
    from spine.config import load_settings

    monkeypatch.setenv("SPINE_DATABASE_URL", db_url)
    services = build(load_settings())
    try:
        run = services.runner().run("finra.weekly_ingest", params)
        steps = services.runs.get_step_runs(run.run_id)
        return {"run": run.to_dict(), "steps": [s.to_dict() for s in steps]}
    finally:
        services.close()


def _count(db_url: str, sql: str) -> int:
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


def test_first_run_loads_the_second_is_unchanged_and_skips_the_load(
    tmp_path: Path, db_url: str
) -> None:
    first = _run(tmp_path, db_url, "week_ending=2025-01-10")
    outputs = first["run"]["outputs"]
    assert first["run"]["status"] == "COMPLETED"
    assert outputs["fetch_status"] == "SUCCESS"
    assert outputs["rows_loaded"] == 195
    assert outputs["checks"] == {"checks": 10, "passed": 10, "failed": 0}
    capture = outputs["capture_id"]
    assert (
        _count(db_url, f"SELECT count(*) FROM finra_otc_weekly WHERE capture_id = '{capture}'")
        == 195
    )
    assert (
        _count(db_url, f"SELECT count(*) FROM core_data_manifests WHERE capture_id = '{capture}'")
        == 1
    )
    assert (
        _count(db_url, f"SELECT count(*) FROM core_load_records WHERE capture_id = '{capture}'")
        == 3
    )
    # The quality stage ran after the load: one result per check of quality.yaml.
    steps = {s["step_name"]: s for s in first["steps"]}
    assert [s["step_name"] for s in first["steps"] if "[" not in s["step_name"]] == [
        "fetch", "changed", "transform", "load", "quality_check", "report"
    ]  # fmt: skip
    assert steps["quality_check"]["quality_passed"] is True
    assert steps["quality_check"]["quality_metrics"]["passed"] == 10
    assert _count(db_url, "SELECT count(*) FROM check_results") == 10
    assert _count(db_url, "SELECT count(*) FROM incidents") == 0
    run_id = first["run"]["run_id"]
    assert (
        _count(
            db_url,
            "SELECT count(*) FROM core_source_fetches WHERE source_name = 'finra.otc_weekly' "
            f"AND run_id = '{run_id}' AND capture_id = '{capture}' AND status = 'SUCCESS'",
        )
        == 1
    )

    second = _run(tmp_path, db_url, "week_ending=2025-01-10")
    assert second["run"]["status"] == "COMPLETED"
    assert second["run"]["outputs"]["fetch_status"] == "UNCHANGED"
    assert second["run"]["outputs"]["rows_loaded"] == 0
    skipped = {s["step_name"] for s in second["steps"] if s["status"] == "SKIPPED"}
    assert {"transform", "load", "quality_check"} <= skipped
    assert _count(db_url, "SELECT count(*) FROM finra_otc_weekly") == 195
    assert _count(db_url, "SELECT count(*) FROM check_results") == 10  # nothing new to check


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_malformed_lines_are_reported_and_the_rest_loaded_then_checked(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _run_here(db_url, monkeypatch, week_ending="2025-01-24")
    steps = {s["step_name"]: s for s in result["steps"]}
    # The good lines loaded; then the checks on the loaded table failed the run.
    assert result["run"]["status"] == "FAILED"
    assert steps["load"]["output_data"]["row_count"] == 148
    rejects = {
        t["tier"]: t["rejects_by_code"] for t in steps["transform"]["output_data"]["results"]
    }["T1"]
    assert rejects["PARSE_ERROR"] == 2
    assert _count(db_url, "SELECT sum(rows_rejected) FROM core_load_records") == sum(
        rejects.values()
    )
    assert _count(db_url, "SELECT count(*) FROM finra_otc_weekly") == 148
    failed = steps["quality_check"]
    assert failed["status"] == "FAILED" and failed["error_category"] == "DATA_QUALITY"
    assert "finra.rows_t1 (error)" in failed["error"]
    assert failed["quality_passed"] is False
    results = failed["quality_metrics"]["results"]
    assert results["finra.rows_t1"]["sensor_value"] == 51
    assert results["finra.venues_t1"]["sensor_value"] == 6  # four venues' reports missing
    assert not results["finra.venues_t1"]["rule_passed"]  # a warning: named, not fatal
    assert "finra.venues_t1" not in failed["error"]
    # The volume swing has no week before: 0, as the check says.
    assert results["finra.volume_swing"]["sensor_value"] == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_republished_week_is_a_new_capture(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DIR, data)
    first = _run_here(db_url, monkeypatch, week_ending="2025-01-17", data_dir=str(data))
    same = _run_here(db_url, monkeypatch, week_ending="2025-01-17", data_dir=str(data))
    assert same["run"]["outputs"]["fetch_status"] == "UNCHANGED"
    t2 = data / "otc_2025-01-17_T2.psv"
    t2.write_text(t2.read_text().replace("|2025-01-20\n", "|2025-01-21\n", 1))
    second = _run_here(db_url, monkeypatch, week_ending="2025-01-17", data_dir=str(data))
    assert second["run"]["outputs"]["fetch_status"] == "SUCCESS"
    assert second["run"]["outputs"]["capture_id"] != first["run"]["outputs"]["capture_id"]
    assert _count(db_url, "SELECT count(DISTINCT capture_id) FROM finra_otc_weekly") == 2
    # The checks look at the newest capture only: the week's rows are not counted twice.
    assert second["run"]["status"] == "COMPLETED"
    metrics = {s["step_name"]: s for s in second["steps"]}["quality_check"]["quality_metrics"]
    new_capture = second["run"]["outputs"]["capture_id"]
    t2_rows = _count(
        db_url,
        f"SELECT count(*) FROM finra_otc_weekly WHERE capture_id = '{new_capture}' AND tier = 'T2'",
    )
    assert metrics["results"]["finra.rows_t2"]["sensor_value"] == t2_rows == 55
    assert metrics["results"]["finra.volume_swing"]["sensor_value"] == 0  # no week before
