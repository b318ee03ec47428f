"""``GET /health``: whether the server and its database answer."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from spine.api.dependencies import ServicesDep
from spine.api.problems import problem_responses
from spine.core.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class HealthResponse(BaseModel):
    """The server answers, and so does its database."""

    status: Literal["ok"] = "ok"
    database: Literal["ok"] = "ok"


@router.get(
    "/health",
    description="`ok` when the server and its database answer; a 503 problem otherwise.",
    responses=problem_responses(503),
)
def health(services: ServicesDep) -> HealthResponse:
    """Check that the database answers ``SELECT 1``.

    Raises:
        DatabaseUnavailable: If it does not (a 503 problem).
    """
    try:
        services.database.ping()
    except Exception as error:
        # Whatever the driver raised, the answer is the same: not healthy.
        log.warning("health check: the database does not answer: %s", error)
        raise DatabaseUnavailable("the database does not answer") from None
    return HealthResponse()
