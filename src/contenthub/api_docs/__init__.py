"""Swagger UI served from the package, so an API's docs page works without the internet.

FastAPI's own docs page loads Swagger UI from a CDN: on a machine that cannot reach it the
page stays blank. The assets here are swagger-ui-dist 5.35.0 from the npm registry
(Apache-2.0: LICENSE, NOTICE and the bundle's third-party notices beside them), with their
source-map comments removed. To update them: ``npm pack swagger-ui-dist@5`` and copy
``swagger-ui-bundle.js``, ``swagger-ui.css``, ``favicon-32x32.png`` and the licence files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).resolve().parent / "swagger_ui"
SWAGGER_UI_VERSION = "5.35.0"


def install_offline_docs(app: FastAPI, docs_url: str) -> None:
    """Serve Swagger UI for ``app.openapi_url`` at ``docs_url``, its assets under
    ``{docs_url}/assets``. Build the app with ``docs_url=None`` so FastAPI's CDN page is off."""
    assets_url = f"{docs_url}/assets"
    app.mount(assets_url, StaticFiles(directory=ASSETS), name="swagger-ui-assets")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} — API docs",
            swagger_js_url=f"{root}{assets_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets_url}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets_url}/favicon-32x32.png",
        )
