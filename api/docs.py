"""The API's documentation pages, readable on an intranet: Swagger UI at ``/docs``, ReDoc at ``/redoc``.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so a machine without internet shows a
blank page. These pages load their scripts, styles and icon from this server (the files the
``fastapi-offline`` wheel ships, under ``/docs-assets``), no web font, no online validator, and
ReDoc without the logo its side menu would fetch from its maker's CDN: nothing is fetched from
outside. Both read the same ``/openapi.json``. The pages and their assets stay out of the OpenAPI
document.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
ASSETS_PACKAGE = ("fastapi_offline", "static")  # swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png
TITLE = "hrflow 接口文档 API docs"
REDOC_BUNDLE = "redoc.standalone.js"
# ReDoc 2 always shows "API docs by Redocly" with this image (no option turns it off); an empty SVG
# in its place means the browser never asks that CDN.
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
NO_LOGO = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"

SWAGGER_UI_PARAMETERS: dict[str, Any] = {
    "persistAuthorization": True,  # the bearer token survives a reload of the page
    "validatorUrl": None,  # Swagger UI would send the document to validator.swagger.io
    "filter": True,  # ninety operations: a box to find one by tag
}


def install(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets on ``app`` (created with ``docs_url=None,
    redoc_url=None``). Links honour the ASGI ``root_path``, so the pages work behind a proxy prefix."""
    openapi_url = app.openapi_url
    assert openapi_url is not None, "the documentation pages read the OpenAPI document"

    @app.get(f"{ASSETS}/{REDOC_BUNDLE}", include_in_schema=False)  # before the mount, which would serve it as shipped
    async def redoc_bundle() -> Response:
        return Response(_redoc_without_logo(), media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.mount(ASSETS, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url, title=TITLE + " · Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png", oauth2_redirect_url=None,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS)

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(
            openapi_url=root + openapi_url, title=TITLE + " · ReDoc", redoc_js_url=f"{root}{ASSETS}/{REDOC_BUNDLE}",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png", with_google_fonts=False)


@cache
def _redoc_without_logo() -> bytes:
    package, folder = ASSETS_PACKAGE
    return files(package).joinpath(folder, REDOC_BUNDLE).read_bytes().replace(REDOC_LOGO, NO_LOGO)


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
