"""The overview: what is failing now, what is late, what runs next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from spine.web.access import Viewer
from spine.web.rendering import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, access: Viewer) -> HTMLResponse:
    """The overview page."""
    return render(request, "overview.html", {"title": "Overview"})
