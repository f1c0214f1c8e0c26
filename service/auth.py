"""Who is calling: identity headers set by a trusted proxy, or `x-user` in development."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from quart import current_app, g, request

from models.settings import Settings
from service.errors import APIError

USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
DEV_HEADER = "x-user"
# Headers every common reverse proxy adds (nginx with the documented recipe, oauth2-proxy, Caddy,
# Traefik). A request carrying one came through a proxy, so `x-user` on it is a client's claim
# that the proxy passed along, never the developer at the keyboard.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Via")
# Identity headers auth proxies set: present, whichever one VM_API_USER_HEADER names, they too
# say the request came through a proxy.
PROXY_IDENTITY_HEADERS = (
    "X-VM-User",
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Auth-Request-User",
    "Remote-User",
)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class Viewer:
    user: str
    is_admin: bool

    @property
    def scope(self) -> str | None:
        """The owner to filter by; None lets an admin see every workspace."""
        return None if self.is_admin else self.user


def _ip(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The peer's address; an IPv4 peer of a dual-stack socket comes as ::ffff:a.b.c.d."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return None  # e.g. a Unix socket peer, or "<local>"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass(frozen=True)
class _Peer:
    """What the peer's address says, worked out once per request."""

    trusted_proxy: bool  # in VM_API_TRUSTED_PROXIES
    loopback: bool

    @classmethod
    def of(cls, address: str | None, settings: Settings) -> _Peer:
        ip = _ip(address)
        if ip is None:
            return cls(trusted_proxy=False, loopback=False)
        return cls(
            trusted_proxy=any(ip in network for network in settings.trusted_proxies),
            loopback=ip.is_loopback,
        )


def _came_through_proxy(headers: Any, peer: _Peer, settings: Settings) -> bool:
    markers = (*FORWARDING_HEADERS, *PROXY_IDENTITY_HEADERS, settings.user_header)
    if any(headers.get(name) is not None for name in markers):
        return True
    # A trusted proxy on another host: everything from it came through it.
    return peer.trusted_proxy and not peer.loopback


def _dev_header_counts(headers: Any, peer: _Peer, settings: Settings) -> bool:
    where = settings.dev_header_from
    if where == "off" or _came_through_proxy(headers, peer, settings):
        return False
    return where == "any" or peer.loopback


def _identity_header(headers: Any, peer: _Peer, settings: Settings) -> str | None:
    """The one header that names the caller on this request, or None.

    From a trusted proxy that is VM_API_USER_HEADER and nothing else: any other identity header
    the client slipped through the proxy is ignored, never read.
    """
    if peer.trusted_proxy and headers.get(settings.user_header):
        return settings.user_header
    if _dev_header_counts(headers, peer, settings):
        return DEV_HEADER
    return None


def resolve_user(headers: Any, remote_addr: str | None, settings: Settings) -> str | None:
    """The caller's name, or None (a 401). Raises APIError 400 for a malformed name."""
    header = _identity_header(headers, _Peer.of(remote_addr, settings), settings)
    if header is None:
        return None
    value = headers.get(header)
    # Empty, or bytes that are not text (servers hand headers over as latin-1): no identity.
    if value is None or not value.strip() or not value.isascii():
        return None
    # fullmatch: `$` would also let a trailing newline through.
    if not USER_NAME.fullmatch(value):
        raise APIError(
            400,
            "INVALID_USER",
            f"{header}: user name must be 1-64 letters, digits, '_', '.', '@' or '-'",
        )
    return value


def caller() -> str | None:
    """This request's user, resolved once: the Idempotency-Key hook asks before the route."""
    if "caller" not in g:
        settings: Settings = current_app.config["SETTINGS"]
        g.caller = resolve_user(request.headers, request.remote_addr, settings)
    return g.caller  # type: ignore[no-any-return]


def require_user(handler: F) -> F:
    """Every /api route carries this: no identity is a 401 before anything else happens."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = caller()
        if user is None:
            raise APIError(401, "UNAUTHORIZED", "authentication required: no user identity header")
        settings: Settings = current_app.config["SETTINGS"]
        g.viewer = Viewer(user=user, is_admin=user in settings.admins)
        return await handler(*args, **kwargs)

    wrapper.requires_user = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def viewer() -> Viewer:
    return g.viewer  # type: ignore[no-any-return]
