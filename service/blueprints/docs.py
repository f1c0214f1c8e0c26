"""The API's documentation pages, offline: Swagger UI's files come from the swagger-ui-py
package installed beside the service, never from a CDN. (swagger-ui-bundle ships Swagger UI 4,
which cannot read the OpenAPI 3.1 documents quart-schema writes: a real browser showed "Unable
to render this definition".) Also the original's addresses
(/swagger-ui, /api-docs/openapi.json) and a front page at /.

ReDoc is not offered: the packages that ship it (drf-spectacular-sidecar,
fastapi-standalone-docs) require Django or FastAPI, a second web framework for one page.
/redocs, quart-schema's usual address for it, sends a person to /docs instead."""

from __future__ import annotations

import html
import mimetypes
from importlib.resources import files

from quart import Blueprint, Quart, Response, current_app, redirect, request
from quart_schema import hide

from service import __version__
from service.errors import APIError
from service.responses import json_response

blueprint = Blueprint("docs", __name__)
ASSETS = "/docs/assets"
# Only files of the package's static folder, by name; none of its web-framework handlers.
SWAGGER_UI_FILES = files("swagger_ui") / "static"
# Only what the page loads: nothing else in the package folder is served.
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png")
ONE_DAY_SECONDS = 86_400

FRONT_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>vm-api</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root {{ color-scheme: light dark; font-family: system-ui, sans-serif; }}
  body {{ max-width: 46rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }}
  code, pre {{ font-family: ui-monospace, monospace; }}
  pre {{ padding: .75rem; border: 1px solid #8886; border-radius: .4rem; overflow-x: auto; }}
</style></head>
<body>
<h1>vm-api {version}</h1>
<p>Hosted developer workspaces. This address serves the HTTP API.</p>
<ul>
  <li><a href="/docs">API documentation</a> (Swagger UI) and
      <a href="/openapi.json">the OpenAPI document</a></li>
  <li><a href="/health">/health</a> and <a href="/health/ready">/health/ready</a></li>
</ul>
<p>Try it from a shell (in local development the caller is named by <code>x-user</code>;
behind the auth proxy, sign in through it instead):</p>
<pre>curl -H "x-user: $USER" {base}/api/v1/workspaces
curl -H "x-user: $USER" -H "content-type: application/json" \\
     -d '{{"name": "dev", "template": "python"}}' {base}/api/v1/workspaces</pre>
</body></html>
"""


def _index() -> dict[str, object]:
    return {
        "service": "vm-api",
        "version": __version__,
        "links": {
            "docs": "/docs",
            "openapi": "/openapi.json",
            "health": "/health",
            "workspaces": "/api/v1/workspaces",
            "templates": "/api/v1/templates",
        },
    }


@blueprint.get("/")
@hide
async def front_page() -> Response:
    """A person's browser gets a page; a JSON client gets the same links as JSON."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    if best == "text/html":
        # werkzeug drops a malformed Host (leaving "http:"); escaped all the same, as it is
        # the client's text put into a page
        base = html.escape(request.host_url.rstrip("/"))
        page = FRONT_PAGE.format(version=__version__, base=base)
        return Response(page, content_type="text/html; charset=utf-8")
    return json_response(_index())


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
