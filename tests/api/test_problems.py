"""Errors are RFC 9457 problem details, with no traceback, path or credential in them."""

from __future__ import annotations

from pathlib import Path

import httpx

from spine.api import create_app
from spine.bootstrap import build
from spine.config import Settings
from spine.core.errors import Conflict
from tests.api.conftest import live_api, serving

PROBLEM = "application/problem+json"
SECRET = "s3cret-Passw0rd"


def test_an_unreachable_database_is_a_503_problem_without_credentials() -> None:
    # Port 1 on loopback refuses at once: no server, no wait.
    url = f"postgresql+psycopg://spine:{SECRET}@127.0.0.1:1/spine"
    with live_api(url) as api:
        health = api.client.get("/health")
        runs = api.client.get("/history/runs")

    for response in (health, runs):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["retry-after"] == "5"
        assert response.json()["status"] == 503
        assert SECRET not in response.text
        assert "127.0.0.1:1" not in response.text
        assert "Traceback" not in response.text
    assert health.json()["instance"] == "/health"


def test_a_database_without_the_schema_is_a_500_problem_with_a_safe_message(
    tmp_path: Path,
) -> None:
    with live_api(f"sqlite:///{tmp_path / 'empty.db'}") as api:
        response = api.client.get("/history/statistics")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["category"] == "CONFIGURATION"
    assert str(tmp_path) not in response.text
    assert "core_workflow_runs" not in response.text


def test_unexpected_errors_are_500_problems_without_details(tmp_path: Path) -> None:
    services = build(Settings(database_url=f"sqlite:///{tmp_path / 'spine.db'}"))
    app = create_app(services)

    def explode() -> None:
        raise RuntimeError(f"password={SECRET}")

    def collide() -> None:
        raise Conflict("run 01J is already COMPLETED")

    app.add_api_route("/explode", explode)
    app.add_api_route("/collide", collide)
    try:
        with serving(app) as url, httpx.Client(base_url=url) as client:
            exploded = client.get("/explode")
            collided = client.get("/collide")
    finally:
        services.close()

    assert exploded.status_code == 500
    assert exploded.headers["content-type"] == PROBLEM
    assert exploded.json()["title"] == "Internal Server Error"
    assert SECRET not in exploded.text
    assert "Traceback" not in exploded.text and "RuntimeError" not in exploded.text
    assert collided.status_code == 409
    assert collided.json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "run 01J is already COMPLETED",
        "instance": "/collide",
        "category": "CONFLICT",
    }


def test_unknown_paths_and_methods_are_problems(tmp_path: Path) -> None:
    with live_api(f"sqlite:///{tmp_path / 'spine.db'}") as api:
        missing = api.client.get("/nothing/here")
        wrong_method = api.client.post("/history/runs")

    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)
    assert missing.json()["instance"] == "/nothing/here"
    assert (wrong_method.status_code, wrong_method.headers["content-type"]) == (405, PROBLEM)
    assert "GET" in wrong_method.headers["allow"]
