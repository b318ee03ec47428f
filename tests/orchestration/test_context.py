"""The step context: what a step may use, and a clear error for what it was not given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from spine import Step, StepContext, Workflow, pipeline
from spine.core.storage import Database
from spine.orchestration import StepServices
from spine.orchestration.errors import StepServiceMissing
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore


class Sent:
    """Records what steps hand to the services (a real service is tested end to end)."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.fetches: list[dict[str, Any]] = []

    def send(self, severity: str, title: str, message: str, **fields: Any) -> str:
        self.alerts.append({"severity": severity, "title": title, **fields})
        return "alert-1"

    def add(self, name: str, kind: str, config: Mapping[str, Any], **fields: Any) -> None:
        raise AssertionError("not used")

    def fetch(self, name: str, params: Mapping[str, Any] | None = None, **fields: Any) -> str:
        self.fetches.append({"name": name, "params": params, **fields})
        return "fetched"


@pytest.mark.parametrize(
    ("service", "use"),
    [
        ("sources", lambda ctx: ctx.fetch("daily")),
        ("sources", lambda ctx: ctx.sources),
        ("alerts", lambda ctx: ctx.send_alert("ERROR", "t", "m")),
        ("database", lambda ctx: ctx.database),
    ],
)
def test_a_step_using_a_service_its_runner_lacks_fails_naming_it(
    runner: WorkflowRunner,
    workflows: WorkflowRegistry,
    service: str,
    use: Callable[[StepContext], object],
) -> None:
    Workflow(
        "needs", [Step.lambda_("work", lambda ctx: {"got": str(use(ctx))})], registry=workflows
    )
    run = runner.run("needs")
    assert run.status.value == "FAILED"
    assert run.error_category == "CONFIGURATION"
    assert f"step 'work' of workflow 'needs' uses ctx.{service}" in (run.error or "")
    assert f"step_services=StepServices({service}=...)" in (run.error or "")


def test_a_missing_service_raises_its_own_error() -> None:
    ctx = StepContext(run_id="r", workflow_name="w", step_name="s", params={}, outputs={})
    with pytest.raises(StepServiceMissing) as raised:
        ctx.fetch("daily")
    assert raised.value.service == "sources"


def test_the_context_links_fetches_and_alerts_to_the_run(
    make_runner: Callable[..., WorkflowRunner], workflows: WorkflowRegistry, db: Database
) -> None:
    sent = Sent()

    def work(ctx: StepContext) -> dict[str, Any]:
        assert ctx.database is db
        return {
            "fetched": ctx.fetch("daily", {"day": "2025-01-10"}, force=True),
            "alert": ctx.send_alert("WARNING", "late", "the file is late"),
        }

    Workflow("uses", [Step.lambda_("work", work)], domain="finra.otc", registry=workflows)
    runner = make_runner(step_services=StepServices(alerts=sent, sources=sent, database=db))
    run = runner.run("uses")
    assert run.status.value == "COMPLETED", run.error
    assert run.outputs == {"fetched": "fetched", "alert": "alert-1"}
    assert sent.fetches == [
        {
            "name": "daily",
            "params": {"day": "2025-01-10"},
            "force": True,
            "run_id": run.run_id,
            "execution_id": None,
        }
    ]
    assert sent.alerts == [
        {
            "severity": "WARNING",
            "title": "late",
            "source": "uses",
            "domain": "finra.otc",
            "run_id": run.run_id,
            "execution_id": None,
            "metadata": None,
            "error_category": None,
        }
    ]


def test_a_pipeline_step_links_its_fetches_and_alerts_to_its_execution(
    make_runner: Callable[..., WorkflowRunner],
    workflows: WorkflowRegistry,
    pipelines: PipelineRegistry,
    store: RunStore,
) -> None:
    sent = Sent()

    @pipeline("load", registry=pipelines)
    def load(ctx: StepContext) -> dict[str, Any]:
        ctx.fetch("daily")
        ctx.send_alert("INFO", "loaded", "done")
        return {"execution_id": ctx.execution_id}

    Workflow("piped", [Step.pipeline("load", "load")], registry=workflows)
    run = make_runner(step_services=StepServices(alerts=sent, sources=sent)).run("piped")

    (step,) = store.get_step_runs(run.run_id)
    assert step.execution_id is not None
    assert run.outputs == {"execution_id": step.execution_id}
    assert [f["execution_id"] for f in sent.fetches] == [step.execution_id]
    assert [a["execution_id"] for a in sent.alerts] == [step.execution_id]
