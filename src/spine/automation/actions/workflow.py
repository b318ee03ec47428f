"""``run_workflow``: start a spine workflow with params from the changed row.

Config::

    workflow: finra.cleanup
    params: {week: "{{ new.week }}", reason: "{{ rule.name }}"}
    partition_key: "{{ new.week }}"     # optional

The run is written in the transaction that keeps the action's result, PENDING, for a
worker to take. It says who started it: ``triggered_by`` is ``automation`` and
``created_by`` is ``automation:<execution id>``; its idempotency key is the action's, so
that however often the change is replayed the workflow is started once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from spine.automation.actions import common
from spine.automation.models import ActionContext, ActionType
from spine.core.errors import SpineError
from spine.core.events import Connection
from spine.core.ids import new_id
from spine.core.storage import sql_connection
from spine.orchestration.execution.values import json_dict, partition_text
from spine.orchestration.history.types import WorkflowRun
from spine.orchestration.params import typed_params
from spine.orchestration.store.runs import insert_run_once
from spine.orchestration.workflow import WorkflowRegistry, workflows

#: ``core_workflow_runs.triggered_by`` of a run an action started.
TRIGGERED_BY = "automation"


def created_by(execution_id: uuid.UUID) -> str:
    """``core_workflow_runs.created_by`` of a run started by execution ``execution_id``."""
    return f"automation:{execution_id}"


class RunWorkflow:
    """Starts a run of a registered workflow, once per action key.

    Args:
        registry: Where workflows are found (the process's, with ``--app`` loaded).
    """

    action_type = ActionType.RUN_WORKFLOW

    def __init__(self, registry: WorkflowRegistry | None = None) -> None:
        self.registry = registry or workflows

    def validate(self, config: Mapping[str, Any], *, workspace_id: uuid.UUID) -> None:
        """A workflow name and params as a mapping (the workflow may not be loaded here)."""
        common.text(config, "workflow")
        common.mapping(config, "params")

    def perform(self, conn: Connection, ctx: ActionContext) -> Mapping[str, Any]:
        """Insert the PENDING run (or find the one this key started); return its id."""
        try:
            run = self._run(ctx, ctx.now)
        except SpineError as error:
            raise common.failed(error) from None
        stored = insert_run_once(sql_connection(conn), run, ctx.now)
        return {
            "run_id": stored.run_id,
            "workflow": stored.workflow_name,
            "started": stored.run_id == run.run_id,
        }

    def _run(self, ctx: ActionContext, now: datetime) -> WorkflowRun:
        config = ctx.config
        workflow = self.registry.get(str(common.text(config, "workflow")))
        params = typed_params(workflow.params, common.mapping(config, "params"))
        return WorkflowRun(
            run_id=new_id(),
            workflow_name=workflow.name,
            workflow_version=workflow.version,
            domain=workflow.domain,
            partition_key=partition_text(config.get("partition_key") or None),
            params=json_dict(params, "params"),
            triggered_by=TRIGGERED_BY,
            created_at=now,
            total_steps=len(workflow.steps),
            created_by=created_by(ctx.execution_id),
            idempotency_key=ctx.idempotency_key[:255],
            workspace_id=ctx.workspace_id,
        )
