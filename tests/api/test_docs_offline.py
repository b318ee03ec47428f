"""``/docs`` works with no internet: the page loads Swagger UI from the server itself."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.conftest import live_api


def test_docs_page_names_no_other_host_and_its_assets_are_served(tmp_path: Path) -> None:
    with live_api(f"sqlite:///{tmp_path / 'spine.db'}") as api:
        page = api.client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        # Every URL the page loads is a path on this server: nothing from a CDN.
        assert re.findall(r"(?:https?:)?//[\w.-]+", html) == []
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sorted(assets) == [
            "/docs/assets/favicon-32x32.png",
            "/docs/assets/swagger-ui-bundle.js",
            "/docs/assets/swagger-ui.css",
        ]
        assert "url: '/openapi.json'" in html
        assert '"validatorUrl": null' in html
        for asset in assets:
            response = api.client.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 500, asset
        script = api.client.get("/docs/assets/swagger-ui-bundle.js")
        assert "SwaggerUIBundle" in script.text
        assert api.client.get("/docs/assets/LICENSE").status_code == 200
        assert api.client.get("/redoc").status_code == 404
        assert "/docs" not in api.client.get("/openapi.json").json()["paths"]
