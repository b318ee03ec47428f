"""Rendering pages: the Jinja2 environment of ``templates/``, its filters, and flashes.

A page handler returns :func:`render` of its template. Every template extends
``base.html`` (the layout, the navigation, the flash message) and gets ``access``
(:class:`~spine.web.access.WebAccess`, or ``None`` on the login and error pages),
``csrf_token`` and ``ui`` (the dashboard's path prefix).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from spine import __version__
from spine.web import formatting
from spine.web.access import PREFIX

_FLASH = "spine_flash"


def environment() -> jinja2.Environment:
    """The dashboard's template environment (autoescaped, undefined names are errors)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("spine.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=formatting.when,
        duration=formatting.human_duration,
        duration_ms=formatting.duration_ms,
        count=formatting.count,
        percent=formatting.percent,
        json=formatting.as_json,
    )
    env.globals.update(ui=PREFIX, version=__version__, with_query=with_query)
    return env


def with_query(request: Request, **changes: object) -> str:
    """This page's path with its query changed: ``None`` removes a parameter."""
    params = dict(request.query_params)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The page ``template`` rendered for ``request`` with ``context``.

    Partial updates need no second template: htmx requests the page and picks the part
    it swaps with ``hx-select``.
    """
    env: jinja2.Environment = request.app.state.templates
    access = getattr(request.state, "access", None)
    values: dict[str, Any] = {
        "request": request,
        "access": access,
        "csrf_token": access.session.csrf if access is not None else "",
        "flash": _flash_of(request),
        "path": request.url.path,
        **(context or {}),
    }
    page = env.get_template(template)
    response = HTMLResponse(page.render(values), status_code=status_code)
    if values["flash"] is not None:
        response.delete_cookie(_FLASH, path=PREFIX)
    return response


def redirect(location: str, flash: str | None = None) -> RedirectResponse:
    """A 303 to ``location`` (after a form post), with a one-time message to show there."""
    response = RedirectResponse(location, status_code=303)
    if flash is not None:
        response.set_cookie(
            _FLASH, quote(flash[:300]), path=PREFIX, httponly=True, samesite="lax", max_age=60
        )
    return response


def _flash_of(request: Request) -> str | None:
    value = request.cookies.get(_FLASH)
    return unquote(value) if value else None
