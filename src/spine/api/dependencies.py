"""What endpoints receive: the services :func:`spine.api.create_app` was given."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from spine.bootstrap import Services
from spine.orchestration.history import HistoryStore


def get_services(request: Request) -> Services:
    """The services the application was built with."""
    services: Services = request.app.state.services
    return services


def get_history_store(request: Request) -> HistoryStore:
    """The workflow history store (spec 002's :class:`HistoryStore`)."""
    return get_services(request).runs


ServicesDep = Annotated[Services, Depends(get_services)]
HistoryStoreDep = Annotated[HistoryStore, Depends(get_history_store)]
