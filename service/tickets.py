"""Who is on a terminal WebSocket: a one-time ticket, or the same identity headers as any route.

A browser cannot set headers on a WebSocket, and behind a cookie-based proxy the handshake is
authenticated by the proxy anyway; in local development there is no proxy and no way to send
`x-user`. So an authenticated POST hands out a ticket: random, short-lived, for one user and one
workspace, good for one handshake. Only its SHA-256 is stored, in the database, so that any web
process (VM_API_WEB_WORKERS > 1) can redeem it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from quart import current_app, g, websocket
from quart.utils import run_sync

from models.records import utcnow
from models.settings import Settings
from models.tickets import insert_ticket, take_ticket
from service.auth import Viewer, resolve_user
from service.errors import APIError

TICKET_PARAMETER = "ticket"
TICKET_BYTES = 32  # 256 bits: unguessable within its 30 s

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class Ticket:
    value: str
    expires_at: datetime


def ticket_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def issue_ticket(user: str, workspace_id: str, settings: Settings) -> Ticket:
    value = secrets.token_urlsafe(TICKET_BYTES)
    lifetime = timedelta(seconds=settings.terminal_ticket_seconds)
    expires_at = insert_ticket(ticket_hash(value), user, workspace_id, lifetime)
    return Ticket(value, expires_at)


def redeem_ticket(value: str, workspace_id: str) -> str | None:
    """The ticket's user, if it is unused, unexpired and for this workspace; it is used up
    whatever the answer."""
    row = take_ticket(ticket_hash(value))
    if row is None or row.workspace_id != _canonical(workspace_id) or row.expires_at <= utcnow():
        return None
    return row.user


def _canonical(workspace_id: str) -> str:
    try:
        return str(uuid.UUID(workspace_id))
    except ValueError:
        return workspace_id  # matches no ticket: tickets are issued for existing workspaces


async def websocket_caller(workspace_id: str) -> str:
    """This handshake's user, or APIError 401. A `?ticket=` is the identity when present (an
    invalid one is refused, never replaced by headers); otherwise the headers, as on any route."""
    settings: Settings = current_app.config["SETTINGS"]
    value = websocket.args.get(TICKET_PARAMETER)
    if value is not None:
        user = await run_sync(redeem_ticket)(value, workspace_id)
        if user is None:
            raise APIError(
                401,
                "INVALID_TICKET",
                "the ticket is unknown, used, expired or for another workspace",
            )
        return user
    user = resolve_user(websocket.headers, websocket.remote_addr, settings)
    if user is None:
        raise APIError(
            401, "UNAUTHORIZED", "authentication required: no user identity header or ticket"
        )
    return user


def require_websocket_user(handler: F) -> F:
    """The WebSocket counterpart of service.auth.require_user (the route's first argument must be
    `workspace_id`, which a ticket is bound to)."""

    @wraps(handler)
    async def wrapper(workspace_id: str, *args: Any, **kwargs: Any) -> Any:
        user = await websocket_caller(workspace_id)
        settings: Settings = current_app.config["SETTINGS"]
        g.viewer = Viewer(user=user, is_admin=user in settings.admins)
        return await handler(workspace_id, *args, **kwargs)

    wrapper.requires_user = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
