"""The API's documentation pages, offline: Swagger UI's files come from the swagger-ui-py
package installed beside the service, never from a CDN. (swagger-ui-bundle ships Swagger UI 4,
which cannot read the OpenAPI 3.1 documents quart-schema writes: a real browser showed "Unable
to render this definition".) Also the original's addresses
(/swagger-ui, /api-docs/openapi.json). The front page at / is the dashboard
(service/dashboard/).

ReDoc is not offered: the packages that ship it (drf-spectacular-sidecar,
fastapi-standalone-docs) require Django or FastAPI, a second web framework for one page.
/redocs, quart-schema's usual address for it, sends a person to /docs instead."""

from __future__ import annotations

import mimetypes
from importlib.resources import files

from quart import Blueprint, Quart, Response, current_app, redirect
from quart_schema import hide

from service.errors import APIError

blueprint = Blueprint("docs", __name__)
ASSETS = "/docs/assets"
# Only files of the package's static folder, by name; none of its web-framework handlers.
SWAGGER_UI_FILES = files("swagger_ui") / "static"
# Only what the page loads: nothing else in the package folder is served.
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png")
ONE_DAY_SECONDS = 86_400


@blueprint.get(f"{ASSETS}/<name>")
@hide
async def asset(name: str) -> Response:
    if name not in ASSET_FILES:
        raise APIError(404, "NOT_FOUND", f"no such asset: {name}")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    body = (SWAGGER_UI_FILES / name).read_bytes()
    response = Response(body, content_type=content_type)
    response.cache_control.max_age = ONE_DAY_SECONDS
    return response


@blueprint.get("/swagger-ui")
@blueprint.get("/swagger-ui/")
@hide
async def original_swagger_ui() -> str:
    """Where the original served its docs page (utoipa's Swagger UI answers with the slash)."""
    return await current_app.extensions["QUART_SCHEMA"].swagger_ui()  # type: ignore[no-any-return]


@blueprint.get("/api-docs/openapi.json")
@hide
async def original_openapi() -> Response:
    """Where the original served its OpenAPI document."""
    return await current_app.extensions["QUART_SCHEMA"].openapi()  # type: ignore[no-any-return]


@blueprint.get("/redocs")
@hide
async def redoc() -> Response:
    """Not a 404 for a bookmark of quart-schema's ReDoc page; temporary, in case it returns."""
    return redirect("/docs", 302)  # type: ignore[return-value]


def serve_docs_offline(app: Quart) -> None:
    """Point quart-schema's docs page at our copies of the bundle (set before QuartSchema,
    which only fills in its CDN defaults where nothing is set)."""
    app.config["QUART_SCHEMA_SWAGGER_JS_URL"] = f"{ASSETS}/swagger-ui-bundle.js"
    app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = f"{ASSETS}/swagger-ui.css"
