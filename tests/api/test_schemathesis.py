"""The whole OpenAPI document, fuzzed by schemathesis against a real server on SQLite.

Every operation gets generated requests (with a key holding every scope, in the key's
workspace). No response may be a 5xx, and every response must match what the document
says of it: its status code, content type, body schema and headers. A route that
answers something it does not document fails here, so the document stays complete
enough for a generated client.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import Case
from schemathesis.specs.openapi import checks as openapi_checks

from spine.api import create_app
from spine.bootstrap import build
from spine.config import Settings
from spine.core.storage import create_database
from spine.core.storage.migrator import Migrator
from spine.tenancy import ALL_SCOPES, Actor
from tests.live_server import serving

# Enough to reach every branch the schema describes without dominating the suite's time;
# SPINE_SCHEMATHESIS_EXAMPLES raises it for a deeper local run.
EXAMPLES = int(os.environ.get("SPINE_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = (
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
)


class Served:
    """The served API, its workspace and a key for it."""

    def __init__(self, url: str, workspace_id: str, key: str) -> None:
        self.url = url
        self.workspace_id = workspace_id
        self.key = key


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "spine.db"
    url = f"sqlite:///{path}"
    database = create_database(url)
    Migrator(database).upgrade()
    database.dispose()
    services = build(Settings(database_url=url, api_auth_failures_per_minute=1_000_000))
    try:
        tenancy = services.tenancy
        tenancy.create_organization("fuzz")
        workspace = tenancy.create_workspace("api", "fuzz", Actor())
        key = tenancy.create_key(
            Actor(workspace_id=workspace.id), name="fuzz", scopes=ALL_SCOPES
        ).secret
        with serving(create_app(services)) as base:
            yield Served(base, str(workspace.id), key)
    finally:
        services.close()


def _operation_labels() -> list[str]:
    # The document is built offline at collection (no database is touched), so that each
    # operation is a test of its own, spread over the workers.
    services = build(Settings(database_url="sqlite:///unused-at-collection.db"))
    try:
        document = create_app(services).openapi()
    finally:
        services.close()
    return [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    ]


@pytest.fixture(scope="module")
def api_schema(served: Served) -> Any:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    schema.config.base_url = served.url
    return schema


@pytest.mark.parametrize("label", _operation_labels())
def test_every_operation_answers_as_documented_and_never_5xx(
    label: str, api_schema: Any, served: Served
) -> None:
    operations = [r.ok() for r in api_schema.get_all_operations()]
    operation = next(op for op in operations if op.label == label)
    path_parameters = (
        {"workspace_id": served.workspace_id} if "{workspace_id}" in operation.path else None
    )
    # Requests go to the key's own workspace: other workspaces are 404 by design, and
    # would hide every route behind that one answer.
    strategy = operation.as_strategy(path_parameters=path_parameters)

    @hypothesis.given(case=strategy)
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        derandomize=True,
        database=None,
    )
    def call(case: Case) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {served.key}"}, checks=CHECKS, timeout=30
        )

    call()
