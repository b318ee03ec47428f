"""The dashboard's pages, one module per part of spine."""

from __future__ import annotations

from fastapi import APIRouter

from spine.web.pages import (
    alerts,
    audit,
    automation,
    keys,
    overview,
    quality,
    runs,
    schedules,
    sources,
)


def routers() -> list[APIRouter]:
    """Every page's router, in the order of the navigation."""
    return [
        overview.router,
        runs.router,
        schedules.router,
        alerts.router,
        sources.router,
        quality.router,
        automation.router,
        audit.router,
        keys.router,
    ]
