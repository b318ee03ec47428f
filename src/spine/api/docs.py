"""``/docs``: Swagger UI from files shipped in the package, so it works with no internet.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, which a server on a closed
network (or a laptop on a train) cannot reach: the page stays blank. Spine ships Swagger
UI's distribution files (``static/swagger-ui/``, Apache-2.0, its LICENSE and NOTICE
beside them; the version and how to update it are in ``docs/decisions.md``) and serves
them under ``/docs/assets``. ReDoc's ``/redoc``, which would need a second bundle, is
not served.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(__file__).with_name("static") / "swagger-ui"
DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"


def install_docs(app: FastAPI) -> None:
    """Serve the Swagger UI page at ``/docs`` and its assets at ``/docs/assets/``.

    ``app`` must be built with ``docs_url=None`` and ``redoc_url=None``.
    """
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        # Behind a proxy that mounts the API under a prefix, every URL carries it.
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
            # Swagger UI would send the document to validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )
