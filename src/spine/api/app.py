"""The FastAPI application: one router per part, errors as problem details."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from spine import __version__
from spine.api import alerting, health, history, runs, schedules, sources, tenancy
from spine.api import webhooks as webhooks_api
from spine.api.automation import router as automation_router
from spine.api.automation_ops import router as automation_ops_router
from spine.api.docs import install_docs
from spine.api.limits import BodyLimits, document_limits
from spine.api.problems import PROBLEM_MEDIA_TYPE, install_handlers
from spine.api.quality import router as quality_router
from spine.api.quality_ops import router as quality_ops_router
from spine.bootstrap import Services
from spine.tenancy.throttle import FailedAuthLimiter

_PROBLEM_REF = "#/components/schemas/Problem"
DESCRIPTION = (
    "Spine's REST API: workflow run history (spec 002). Errors are RFC 9457 problem "
    "details (`application/problem+json`)."
)


class SpineAPI(FastAPI):
    """FastAPI whose OpenAPI document gives error responses the problem details media type."""

    def openapi(self) -> dict[str, Any]:
        """Return the OpenAPI document, built once."""
        if self.openapi_schema is None:
            schema = super().openapi()
            document_limits(schema)
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for code, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if code[:1] in ("4", "5") and "application/json" in content:
                            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
                        if code == "422":
                            # FastAPI documents its own validation body on routes that do
                            # not declare a 422; spine answers a problem there too.
                            content[PROBLEM_MEDIA_TYPE] = {"schema": {"$ref": _PROBLEM_REF}}
            components = schema.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            self.openapi_schema = schema
        return self.openapi_schema


def create_app(services: Services) -> FastAPI:
    """Build the API over ``services`` (from :func:`spine.bootstrap.build`).

    The caller keeps ownership of ``services`` and closes them when the server stops.

    Returns:
        An ASGI application; its OpenAPI document is at ``/openapi.json``.
    """
    # `/docs` is served from the package's own Swagger UI files (spine.api.docs).
    app = SpineAPI(
        title="spine", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None
    )
    app.state.services = services
    app.state.auth_limiter = FailedAuthLimiter(services.settings.api_auth_failures_per_minute)
    install_handlers(app)
    # Outermost: a body too large, not JSON or nested too deep never reaches a route.
    app.add_middleware(BodyLimits, max_bytes=services.settings.api_max_body_bytes)
    install_docs(app)
    app.include_router(health.router)
    app.include_router(history.router)
    for part in (runs, schedules, alerting, sources, tenancy):
        app.include_router(part.router)
    app.include_router(quality_router)
    app.include_router(quality_ops_router)
    app.include_router(webhooks_api.router)
    app.include_router(automation_router)
    app.include_router(automation_ops_router)
    return app
