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
PROXY_HEADERS = ("X-VM-User", "X-Forwarded-User")
DEV_HEADER = "x-user"

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


def _is_in(address: str | None, networks: tuple[Any, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in networks)


def _is_loopback(address: str | None) -> bool:
    ip = _ip(address)
    return ip is not None and ip.is_loopback


def resolve_user(headers: Any, remote_addr: str | None, settings: Settings) -> str | None:
    """Proxy headers count only from VM_API_TRUSTED_PROXIES, so a client that reaches the
    service directly cannot claim to be anyone; `x-user` only when enabled or from loopback."""
    candidates = []
    if _is_in(remote_addr, settings.trusted_proxies):
        candidates.extend(headers.get(name) for name in PROXY_HEADERS)
    if settings.allow_dev_user_header or _is_loopback(remote_addr):
        candidates.append(headers.get(DEV_HEADER))
    present = [value for value in candidates if value is not None]
    # Every identity header that counts must be well-formed, not only the one that wins:
    # a malformed one is an injection attempt or a broken proxy, never to be skipped over.
    # fullmatch: `$` would also let a trailing newline through.
    if any(not USER_NAME.fullmatch(value) for value in present):
        raise APIError(
            400, "INVALID_USER", "user name must be 1-64 letters, digits, '_', '.', '@' or '-'"
        )
    return present[0] if present else None


def require_user(handler: F) -> F:
    """Every /api route carries this: no identity is a 401 before anything else happens."""

    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings: Settings = current_app.config["SETTINGS"]
        user = resolve_user(request.headers, request.remote_addr, settings)
        if user is None:
            raise APIError(401, "UNAUTHORIZED", "authentication required: no user identity header")
        g.viewer = Viewer(user=user, is_admin=user in settings.admins)
        return await handler(*args, **kwargs)

    wrapper.requires_user = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def viewer() -> Viewer:
    return g.viewer  # type: ignore[no-any-return]
