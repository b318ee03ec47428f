"""What endpoints receive: the services :func:`spine.api.create_app` was given."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from spine.bootstrap import Services


def get_services(request: Request) -> Services:
    """The services the application was built with."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
