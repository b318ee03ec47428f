from __future__ import annotations

from pathlib import Path

import pytest

from spine.core.clock import FrozenClock
from spine.core.errors import ConfigurationError
from spine.core.storage import Database
from spine.orchestration import RetryPolicy, StepServices, Workflow
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.sources import FetchStatus, SourceService, fetch_step


@pytest.fixture
def runner(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry, sources: SourceService
) -> WorkflowRunner:
    return WorkflowRunner(
        RunStore(db, clock),
        clock=clock,
        workflow_registry=workflows,
        pipeline_registry=PipelineRegistry(),
        step_services=StepServices(sources=sources, database=db),
    )


@pytest.fixture
def workflows() -> WorkflowRegistry:
    return WorkflowRegistry()


@pytest.fixture
def data(sources: SourceService, tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "day_2025-01-10.csv").write_text("a,b\n1,2\n3,4\n")
    sources.add("daily", "file", {"path": f"{folder}/day_{{day}}.csv"})
    return folder


def test_fetch_step_links_the_fetch_to_the_run(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    sources: SourceService,
    data: Path,
    db: Database,
    clock: FrozenClock,
) -> None:
    Workflow(
        "ingest",
        [
            fetch_step(
                "fetch",
                "daily",
                params=lambda ctx: {"day": ctx.params["day"]},
            )
        ],
        registry=workflows,
    )
    run = runner.run("ingest", {"day": "2025-01-10"})
    assert run.status.value == "COMPLETED"
    outputs = run.outputs
    assert outputs["status"] == "SUCCESS"
    assert outputs["record_count"] == 2
    assert outputs["path"] == str(data / "day_2025-01-10.csv")
    row = sources.fetches("daily")[0]
    assert row["run_id"] == run.run_id
    assert row["capture_id"] == outputs["capture_id"]
    assert row["id"] == outputs["fetch_id"]
    again = runner.run("ingest", {"day": "2025-01-10"})
    assert again.outputs["status"] == "UNCHANGED"


def test_failed_fetch_fails_the_step_with_its_category(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    sources: SourceService,
    data: Path,
    db: Database,
    clock: FrozenClock,
) -> None:
    Workflow(
        "ingest",
        [
            fetch_step(
                "fetch",
                "daily",
                params={"day": "2025-01-11"},
                retry=RetryPolicy(max_attempts=3),
            )
        ],
        registry=workflows,
    )
    run = runner.run("ingest")
    assert run.status.value == "FAILED"
    assert "NOT_FOUND" in (run.error or "")
    # NOT_FOUND is not retryable: one attempt, one fetch row.
    assert len(sources.fetches("daily")) == 1
    assert sources.fetches("daily")[0]["run_id"] == run.run_id


def test_plain_fetch_function(
    sources: SourceService,
    data: Path,
    db: Database,
    clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = sources.fetch("daily", {"day": "2025-01-10"})
    assert result.status is FetchStatus.SUCCESS
    assert result.to_dict()["status"] == "SUCCESS"
    assert result.started_at == clock.now()


def test_the_module_level_fetch_is_gone_and_names_the_context() -> None:
    from spine import sources
    from spine.sources import runtime

    with pytest.raises(ConfigurationError, match=r"ctx\.fetch\(name, params\)"):
        sources.fetch("daily", {"day": "2025-01-10"})
    with pytest.raises(ConfigurationError, match=r"build\(settings\)\.sources"):
        runtime.service()
