"""The dashboard at `/`: one HTML page (per-response nonce, strict Content-Security-Policy) and
its files. The page talks only to the public API, so whatever it does a script can do too.

`/` still answers JSON clients (`Accept: application/json`, curl's `*/*`) with the index of
links it always gave them; a browser gets the page.
"""

from __future__ import annotations

import re
import secrets

from quart import Blueprint, Response, render_template, request, send_file
from quart_schema import hide

from service import __version__
from service.dashboard.assets import (
    VENDOR_FILES,
    Asset,
    missing_vendor_files,
    own_asset,
    vendor_asset,
)
from service.errors import APIError
from service.responses import json_response

blueprint = Blueprint("dashboard", __name__, template_folder="templates")
STATIC = "/dashboard/static"
VENDOR = "/dashboard/vendor"
# A Host header we are willing to write into the policy; anything odd gets 'self' only.
PLAIN_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def _index() -> dict[str, object]:
    return {
        "service": "vm-api",
        "version": __version__,
        "links": {
            "dashboard": "/",
            "docs": "/docs",
            "openapi": "/openapi.json",
            "health": "/health",
            "workspaces": "/api/v1/workspaces",
            "templates": "/api/v1/templates",
        },
    }


def content_security_policy(nonce: str, host: str) -> str:
    """Our own files only. <style> elements need the nonce: xterm.js creates some (the page
    stamps the nonce on them, see static/nonce.js); style attributes are allowed because xterm
    sets a few on cells. The terminal's WebSocket is the same host, spelled ws:/wss:, which
    older browsers do not count as 'self'."""
    connect = ["'self'"]
    if PLAIN_HOST.fullmatch(host):
        connect += [f"ws://{host}", f"wss://{host}"]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            f"style-src 'self' 'nonce-{nonce}'",
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            f"connect-src {' '.join(connect)}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )


@blueprint.get("/")
@hide
async def get_dashboard() -> Response:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    if best != "text/html":
        return json_response(_index())
    nonce = secrets.token_urlsafe(18)
    page = await render_template(
        "dashboard.html",
        nonce=nonce,
        version=__version__,
        static=STATIC,
        vendor=VENDOR,
        missing=missing_vendor_files(),
    )
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = content_security_policy(nonce, request.host)
    response.headers["Cache-Control"] = "no-store"  # the nonce is new on every response
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def _send(asset: Asset | None, name: str) -> Response:
    if asset is None:
        raise APIError(404, "NOT_FOUND", f"no such dashboard file: {name}")
    response = await send_file(asset.path, mimetype=asset.content_type)
    response.cache_control.no_cache = True  # revalidated (ETag): a new version shows at once
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.get(f"{STATIC}/<name>")
@hide
async def get_static(name: str) -> Response:
    return await _send(own_asset(name), name)


@blueprint.get(f"{VENDOR}/<name>")
@hide
async def get_vendor(name: str) -> Response:
    asset = vendor_asset(name)
    if asset is None and name in VENDOR_FILES:
        raise APIError(
            404,
            "FRONTEND_NOT_INSTALLED",
            f"{name} is not installed: run `make run` or `npm ci --prefix service/dashboard`",
        )
    return await _send(asset, name)
