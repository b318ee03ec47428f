"""The dashboard: server-rendered pages over spine's services, at ``/ui``.

FastAPI and Jinja2 render every page on the server; htmx (shipped in ``static/``, no
build step) makes forms and links update the page in place. Charts are SVG drawn here
(:mod:`spine.web.charts`). ``docs/dashboard.md`` describes the pages.
"""

from __future__ import annotations

from spine.web.app import create_dashboard, mount_dashboard
from spine.web.session import LoginToken

__all__ = ["LoginToken", "create_dashboard", "mount_dashboard"]
