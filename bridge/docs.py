"""/docs (Swagger UI) and /redoc served with no network access, and the /demo/ page (issue 16).

FastAPI's own pages load Swagger UI and ReDoc from a CDN, which intranet
deployments of OpenIM cannot reach. The assets come from the
`fastapi-offline` package instead (MIT; it ships swagger-ui-bundle.js,
swagger-ui.css and redoc.standalone.js as package data and nothing we run),
served here under /docs/assets. `persistAuthorization` keeps the session
token given to the Authorize button across reloads.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "install_docs"]

_DEMO = files("bridge") / "demo"

ASSETS_PATH = "/docs/assets"


def install_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve /docs, /redoc and their assets; the app must be made with docs_url=None, redoc_url=None."""
    assets = files("fastapi_offline") / "static"
    app.mount(ASSETS_PATH, StaticFiles(directory=str(assets)), name="docs-assets")
    title = f"{app.title} {app.version}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    # A plain-JS page that logs in, befriends, chats and streams (README "Quickstart").
    app.mount("/demo", StaticFiles(directory=str(_DEMO), html=True), name="demo")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
