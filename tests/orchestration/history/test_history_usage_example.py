"""Spec 002's "Usage Example", run as written, and what it records.

The example's code is copied from the specification unchanged (only indented into a
function, whose parameters stand in for the four functions the example leaves to the
reader). It finds its database through ``DatabaseConfig.from_env()``, that is through
``SPINE_DATABASE_URL``, which each test points at its freshly migrated database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ulid import ULID

from spine.core.storage import Database
from spine.orchestration.history import HistoryStore, StepStatus, WorkflowStatus

HEADER = (
    "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|"
    "totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate"
)
FILE = "\n".join(
    [
        HEADER,
        "NMS Tier 1|AAPL|Apple Inc.|UBS ATS|UBSA|1200500|3410|2025-01-13",
        "NMS Tier 1|AAPL|Apple Inc.|Citadel Connect|CDEL|880100|2201|2025-01-13",
        "NMS Tier 1|MSFT|Microsoft Corporation|UBS ATS|UBSA|950000|2800|2025-01-13",
        "NMS Tier 1|MSFT|Microsoft Corporation|Citadel Connect|CDEL|-5|1|2025-01-13",
    ]
)
Records = list[dict[str, Any]]
QualityCheck = Callable[[Records], tuple[bool, dict[str, Any]]]
URL = "https://otce.finra.org/otce/weeklySummary?tierIdentifier=T1&weekStartDate=2025-01-06"


@dataclass(frozen=True)
class Download:
    """What ``fetch_from_finra`` returns: the file's rows and where they came from."""

    url: str
    rows: list[dict[str, str]]

    def __len__(self) -> int:
        return len(self.rows)


def fetch_from_finra() -> Download:
    header, *lines = FILE.splitlines()
    names = header.split("|")
    return Download(URL, [dict(zip(names, line.split("|"), strict=True)) for line in lines])


def transform_data(result: Download) -> list[dict[str, Any]]:
    return [
        {
            "symbol": row["issueSymbolIdentifier"],
            "mpid": row["MPID"],
            "shares": int(row["totalWeeklyShareQuantity"]),
            "trades": int(row["totalWeeklyTradeCount"]),
        }
        for row in result.rows
    ]


def quality_checks(*, min_rows: int) -> QualityCheck:
    def run_quality_checks(records: Records) -> tuple[bool, dict[str, Any]]:
        negative = sum(1 for r in records if r["shares"] < 0)
        metrics = {"rows": len(records), "negative_volume": negative, "min_rows": min_rows}
        return len(records) >= min_rows and negative <= 1, metrics

    return run_quality_checks


def loader(into: list[dict[str, Any]]) -> Callable[[list[dict[str, Any]]], int]:
    def load_to_database(records: list[dict[str, Any]]) -> int:
        valid = [r for r in records if r["shares"] >= 0]
        into.extend(valid)
        return len(valid)

    return load_to_database


def spec_usage_example(
    fetch_from_finra: Callable[[], Download],
    transform_data: Callable[[Download], list[dict[str, Any]]],
    run_quality_checks: QualityCheck,
    load_to_database: Callable[[list[dict[str, Any]]], int],
) -> None:
    """Spec 002, "Usage Example", verbatim between the markers; then the adapter is closed."""
    try:
        # --- spec 002, "Usage Example" -------------------------------------------------
        # In workflow runner
        from spine.orchestration.history import HistoryTracker, HistoryStore  # noqa: I001
        from spine.core.storage import create_adapter, DatabaseConfig

        # Setup
        config = DatabaseConfig.from_env()
        adapter = create_adapter(config)
        adapter.connect()

        store = HistoryStore(adapter)
        tracker = HistoryTracker(store)

        # Track workflow execution
        with tracker.track_workflow(
            workflow_name="finra.otc_transparency.ingest_week",
            domain="finra",
            partition_key="2025-01-10|T1",
            params={"tier": "T1", "week_ending": "2025-01-10"},
            triggered_by="schedule",
        ) as run:
            # Track fetch step
            with run.track_step("fetch_data", "lambda") as step:
                result = fetch_from_finra()
                step.record_records(len(result))
                step.record_output({"url": result.url})

            # Track transform step
            with run.track_step("transform", "lambda") as step:
                records = transform_data(result)
                step.record_records(len(records))

            # Track quality check
            with run.track_step("quality_check", "pipeline") as step:
                passed, metrics = run_quality_checks(records)
                step.record_quality(passed, metrics)
                if not passed:
                    raise ValueError("Quality check failed")

            # Track load step
            with run.track_step("load_data", "lambda") as step:
                inserted = load_to_database(records)
                step.record_records(inserted)

            run.record_metric("total_records", len(records))
        # --- end of the example ----------------------------------------------------------
    finally:
        adapter.close()


@pytest.fixture
def spec_env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``DatabaseConfig.from_env()`` finds the test's migrated database, and nothing else."""
    monkeypatch.setenv("SPINE_DATABASE_URL", db_url)
    monkeypatch.delenv("SPINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray spine.toml


def test_usage_example_records_a_completed_run_with_its_steps(spec_env: None, db: Database) -> None:
    loaded: list[dict[str, Any]] = []

    spec_usage_example(fetch_from_finra, transform_data, quality_checks(min_rows=4), loader(loaded))

    store = HistoryStore(db)
    [run] = store.list_workflow_runs()
    assert str(ULID.from_str(run.run_id)) == run.run_id
    assert run.status is WorkflowStatus.COMPLETED
    assert (run.workflow_name, run.domain, run.partition_key, run.triggered_by) == (
        "finra.otc_transparency.ingest_week",
        "finra",
        "2025-01-10|T1",
        "schedule",
    )
    assert run.params == {"tier": "T1", "week_ending": "2025-01-10"}
    assert run.metrics == {"total_records": 4}
    assert run.error is None
    assert run.duration_ms is not None and run.duration_ms >= 0
    assert (run.total_steps, run.completed_steps, run.failed_steps) == (4, 4, 0)

    steps = store.get_step_runs(run.run_id)
    assert [(s.step_order, s.step_name, s.step_type, s.status) for s in steps] == [
        (0, "fetch_data", "lambda", StepStatus.COMPLETED),
        (1, "transform", "lambda", StepStatus.COMPLETED),
        (2, "quality_check", "pipeline", StepStatus.COMPLETED),
        (3, "load_data", "lambda", StepStatus.COMPLETED),
    ]
    fetch, transform, quality, load = steps
    assert (fetch.records_processed, fetch.output_data) == (4, {"url": URL})
    assert transform.records_processed == 4
    assert quality.quality_passed is True
    assert quality.quality_metrics == {"rows": 4, "negative_volume": 1, "min_rows": 4}
    assert load.records_processed == 3 == len(loaded)

    events = [e.event_type for e in store.get_events(run.run_id)]
    assert events == [
        "run.running",
        *["step.running", "step.completed"] * 4,
        "run.completed",
    ]


def test_usage_example_with_failing_quality_checks_records_a_failed_run(
    spec_env: None, db: Database
) -> None:
    loaded: list[dict[str, Any]] = []

    with pytest.raises(ValueError, match="Quality check failed"):
        spec_usage_example(
            fetch_from_finra, transform_data, quality_checks(min_rows=1000), loader(loaded)
        )

    store = HistoryStore(db)
    [run] = store.list_workflow_runs()
    assert run.status is WorkflowStatus.FAILED
    assert (run.error, run.error_category, run.error_retryable) == (
        "Quality check failed",
        "VALIDATION",
        False,
    )
    assert run.metrics == {}  # the example records its metric only on success
    assert (run.total_steps, run.completed_steps, run.failed_steps) == (3, 2, 1)
    assert loaded == []

    steps = store.get_step_runs(run.run_id)
    assert [(s.step_name, s.status) for s in steps] == [
        ("fetch_data", StepStatus.COMPLETED),
        ("transform", StepStatus.COMPLETED),
        ("quality_check", StepStatus.FAILED),
    ]
    quality = steps[-1]
    assert (quality.quality_passed, quality.error) == (False, "Quality check failed")
    assert quality.quality_metrics == {"rows": 4, "negative_volume": 1, "min_rows": 1000}
    events = [e.event_type for e in store.get_events(run.run_id)]
    assert events[-2:] == ["step.failed", "run.failed"]
