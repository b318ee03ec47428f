"""The published OpenAPI document describes the endpoints and their models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import live_api

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document as the running server publishes it (no database is touched)."""
    path: Path = tmp_path_factory.mktemp("openapi") / "spine.db"
    with live_api(f"sqlite:///{path}") as api:
        response = api.client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _schema_ref(operation: dict[str, Any], status: str, media_type: str) -> str:
    schema = operation["responses"][status]["content"][media_type]["schema"]
    return str(schema.get("$ref") or schema["items"]["$ref"])


def test_openapi_lists_the_history_endpoints(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]

    assert {path: sorted(ops) for path, ops in paths.items() if path.startswith("/history")} == {
        "/history/runs": ["get"],
        "/history/runs/{run_id}": ["get"],
        "/history/statistics": ["get"],
        "/history/runs/old": ["delete"],
    }
    refs = {
        _schema_ref(paths["/history/runs"]["get"], "200", "application/json"),
        _schema_ref(paths["/history/runs/{run_id}"]["get"], "200", "application/json"),
        _schema_ref(paths["/history/statistics"]["get"], "200", "application/json"),
        _schema_ref(paths["/history/runs/old"]["delete"], "200", "application/json"),
        _schema_ref(paths["/health"]["get"], "200", "application/json"),
    }
    assert refs == {
        "#/components/schemas/WorkflowRunResponse",
        "#/components/schemas/RunDetailResponse",
        "#/components/schemas/StatisticsResponse",
        "#/components/schemas/DeletedResponse",
        "#/components/schemas/HealthResponse",
    }


def test_openapi_models_keep_spec_002_field_names(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]

    assert set(schemas["WorkflowRunResponse"]["properties"]) >= {
        "run_id",
        "workflow_name",
        "domain",
        "status",
        "started_at",
        "completed_at",
        "duration_seconds",
        "error",
        "triggered_by",
    }
    assert set(schemas["StepRunResponse"]["properties"]) >= {
        "step_id",
        "step_name",
        "step_type",
        "status",
        "started_at",
        "completed_at",
        "duration_seconds",
        "records_processed",
        "quality_passed",
        "error",
    }
    assert set(schemas["StatisticsResponse"]["required"]) >= {
        "total_runs",
        "completed",
        "failed",
        "success_rate",
        "avg_duration_seconds",
    }
    assert set(schemas["RunDetailResponse"]["properties"]) == {"run", "steps", "events"}
    status = schemas["WorkflowStatus"]["enum"]
    assert status == ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]


def test_openapi_documents_errors_as_problem_details(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]
    run = paths["/history/runs/{run_id}"]["get"]
    listing = paths["/history/runs"]["get"]

    assert _schema_ref(run, "404", PROBLEM) == "#/components/schemas/Problem"
    assert _schema_ref(listing, "422", PROBLEM) == "#/components/schemas/Problem"
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    assert set(response["content"]) == {PROBLEM}, (path, method, status)
                    assert _schema_ref(operation, status, PROBLEM).endswith("/Problem")
    assert "HTTPValidationError" not in openapi["components"]["schemas"]
    assert set(listing["responses"]["422"]["content"]) == {PROBLEM}
    assert "X-Total-Count" in listing["responses"]["200"]["headers"]
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["default"], limit["schema"]["maximum"]) == (50, 200)
    problem = openapi["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail", "instance"} <= set(problem)
