"""What a browser may do: which other sites may call the API (CORS), and no state change from a
page of a site that may not.

Behind a cookie-based auth proxy the browser sends the user's cookie with every request, even
one a hostile page makes; the proxy then adds the user's identity. So a state-changing request
from a foreign page is refused here, with 403, before any handler runs. CORS headers come from
quart-cors; the refusal is ours, because CORS only stops a page from reading the answer, not the
request from happening.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from quart import Quart, current_app, request, websocket
from quart_cors import cors, cors_exempt

from models.settings import Settings
from service.errors import APIError

STATE_CHANGING = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# What a page of an allowed origin may send and read (identity comes from the proxy or x-user).
ALLOWED_HEADERS = (
    "Content-Type",
    "Authorization",
    "Idempotency-Key",
    "Last-Event-ID",
    "X-Request-ID",
    "x-user",
)
EXPOSED_HEADERS = ("Location", "Link", "Idempotent-Replayed", "X-Request-ID", "Retry-After")
PREFLIGHT_MAX_AGE_SECONDS = 600

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _host_of(origin: str) -> str | None:
    parts = urlsplit(origin)
    return parts.netloc.lower() or None


def origin_is_allowed(origin: str, headers: Any, settings: Settings) -> bool:
    """An origin in VM_API_CORS_ORIGINS, or the service's own (its pages call it too)."""
    if origin.lower() in settings.cors_origins:
        return True
    host = _host_of(origin)
    own_hosts = {headers.get("Host", "").lower(), headers.get("X-Forwarded-Host", "").lower()}
    return host is not None and host in own_hosts - {""}


def refusal(method: str, headers: Any, settings: Settings) -> str | None:
    """Why a request must be refused, or None. A request with no Origin and no Sec-Fetch-Site
    is not from a browser page (curl, the CLI, a script): nothing to check."""
    if method not in STATE_CHANGING:
        return None
    fetch_site = (headers.get("Sec-Fetch-Site") or "").lower()
    if fetch_site == "same-origin":  # set by the browser itself; a page cannot forge it
        return None
    origin = headers.get("Origin")
    if origin is not None:
        if origin_is_allowed(origin, headers, settings):
            return None
        return f"requests from origin {origin!r} may not change anything (VM_API_CORS_ORIGINS)"
    if fetch_site == "cross-site":
        return "a page of another site may not change anything (Sec-Fetch-Site: cross-site)"
    return None


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


async def _refuse_foreign_pages() -> None:
    why = refusal(request.method, request.headers, _settings())
    if why is not None:
        raise APIError(403, "CROSS_ORIGIN_REFUSED", why)


def check_websocket_origin() -> None:
    """The same rule for a WebSocket handshake, which a browser makes with an Origin."""
    origin = websocket.headers.get("Origin")
    if origin is not None and not origin_is_allowed(origin, websocket.headers, _settings()):
        raise APIError(403, "CROSS_ORIGIN_REFUSED", f"WebSocket from origin {origin!r} refused")


def browser_websocket(handler: F) -> F:
    """Every WebSocket route carries this: our Origin rule instead of quart-cors's, which would
    refuse the command-line client (it sends no Origin) and the service's own pages."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_websocket_origin()
        return await handler(*args, **kwargs)

    return cors_exempt(wrapper)  # type: ignore[no-any-return]


def install_browser_safety(app: Quart, settings: Settings) -> None:
    """Register the refusal before any other request hook, so that nothing runs first."""
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_foreign_pages)
    cors(
        app,
        allow_origin=list(settings.cors_origins),
        allow_credentials=True,  # cookie-based proxies: the page's cookie is the identity
        allow_headers=list(ALLOWED_HEADERS),
        allow_methods=["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"],
        expose_headers=list(EXPOSED_HEADERS),
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
