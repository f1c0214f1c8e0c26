"""The terminal: a WebSocket joined to a shell with a TTY in a running Docker workspace, and the
one-time tickets that let a browser open it (docs/terminal.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from quart import Blueprint, Response, current_app, websocket
from quart.utils import run_sync
from quart_schema import document_response

from models.access import finish_access
from models.errors import InvalidTransition
from models.reads import select_workspace
from models.records import WorkspaceRecord, rfc3339
from models.settings import Settings
from models.states import WorkspaceStatus
from models.terminals import TooManyTerminals, begin_terminal
from models.work import touch_operations
from service import params
from service.access import docker_provider, require_reachable
from service.auth import require_user, viewer
from service.browser_safety import browser_websocket
from service.draining import when_draining
from service.errors import APIError
from service.responses import json_response
from service.schemas import Error
from service.terminal_bridge import TerminalPump
from service.tickets import TICKET_PARAMETER, issue_ticket, require_websocket_user
from tasks.providers.base import ProviderError
from tasks.providers.docker_terminal import DockerTerminal, open_terminal
from tasks.specs import spec_for

log = logging.getLogger("vm_api.terminal")
blueprint = Blueprint("terminal", __name__, url_prefix="/api/v1/workspaces/<workspace_id>")

KEEPALIVE_SECONDS = 10.0  # the operation's heartbeat; the sweep fails it after 30 s without
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_SERVER_ERROR = 1011


class TerminalTicket(BaseModel):
    ticket: str
    expires_at: str
    url: str


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


@blueprint.post("/terminal/ticket")
@document_response(TerminalTicket, 201)
@document_response(Error, 404)
@document_response(Error, 409)
@require_user
async def post_terminal_ticket(workspace_id: str) -> Response:
    """A one-time ticket for the terminal WebSocket, for browsers (which cannot set headers
    on a WebSocket): valid VM_API_TERMINAL_TICKET_SECONDS (30 s), for this workspace only.
    A workspace that cannot open a terminal now is refused here, with the handshake's 409."""
    workspace = await run_sync(select_workspace)(params.path_uuid(workspace_id), viewer().scope)
    _check_openable(workspace)
    ticket = await run_sync(issue_ticket)(viewer().user, workspace.id, _settings())
    url = f"/api/v1/workspaces/{workspace.id}/terminal?{TICKET_PARAMETER}={ticket.value}"
    body = {"ticket": ticket.value, "expires_at": rfc3339(ticket.expires_at), "url": url}
    return json_response(body, 201)


def _size(name: str) -> int | None:
    value = websocket.args.get(name)
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) <= 10_000:
        raise APIError(400, "BAD_REQUEST", f"{name} must be a whole number from 1 to 10000")
    return int(value)


def _check_openable(workspace: WorkspaceRecord) -> None:
    if workspace.status != WorkspaceStatus.RUNNING.value:
        raise InvalidTransition("open_terminal_in", workspace.status)  # 409 with its status
    if workspace.provider != "docker":
        # A local workspace is a folder on the server: its shell would be the server's.
        raise APIError(
            409,
            "TERMINAL_NOT_SUPPORTED",
            "the local provider has no terminal: its workspaces are folders on the server",
        )
    require_reachable(workspace)


def _open(workspace: WorkspaceRecord, settings: Settings, size: tuple[Any, Any]) -> DockerTerminal:
    provider = docker_provider(workspace)
    spec = spec_for(workspace, settings)
    return open_terminal(provider.client, workspace.id, spec.shell, spec.workdir, *size)


@blueprint.websocket("/terminal")
@browser_websocket
@require_websocket_user
async def terminal_socket(workspace_id: str) -> None:
    settings = _settings()
    size = (_size("cols"), _size("rows"))
    workspace = await run_sync(select_workspace)(params.path_uuid(workspace_id), viewer().scope)
    _check_openable(workspace)
    try:
        operation = await run_sync(begin_terminal)(
            workspace.id,
            workspace.owner,
            viewer().user,
            settings.max_terminals_per_workspace,
            timedelta(seconds=settings.heartbeat_timeout),
            {"shell": spec_for(workspace, settings).shell},
        )
    except TooManyTerminals as exc:
        raise APIError(429, "TOO_MANY_TERMINALS", str(exc), limit=exc.limit) from None
    try:
        terminal = await run_sync(_open)(workspace, settings, size)
    except ProviderError as exc:
        await run_sync(finish_access)(operation.id, error=str(exc))
        raise APIError(502, "TERMINAL_UNAVAILABLE", str(exc)) from None
    await websocket.accept()
    await _serve(terminal, operation.id)


async def _serve(terminal: DockerTerminal, operation_id: str) -> None:
    """Pump until the shell exits, the person leaves or the server stops; then end the shell
    and record the session."""
    pump = TerminalPump(terminal, websocket)
    ended_by, exit_code, error = "client", None, None
    stopping = asyncio.Event()

    async def stop() -> None:
        stopping.set()

    async def keepalive() -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            await run_sync(touch_operations)([operation_id])

    unregister = when_draining(stop)
    running = asyncio.ensure_future(pump.run(keepalive))
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()  # the shell's output ended, or the pump failed (raises)
            ended_by = "exit"
            exit_code = await run_sync(terminal.exit_code)()
            await _close_after_exit(exit_code)
        else:
            ended_by = "server"
            await websocket.close(CLOSE_GOING_AWAY, "the server is stopping")
    except Exception as exc:  # the session broke on our side: tell the client, record it
        log.exception("terminal session %s failed", operation_id)
        ended_by, error = "error", f"terminal session failed: {exc}"
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_SERVER_ERROR, "terminal session failed")
    finally:
        unregister()
        for task in (running, stopped):
            task.cancel()
        detail = {**pump.traffic.summary(), "exit_code": exit_code, "ended_by": ended_by}
        # Shielded: the person leaving cancels this handler, and the shell must still be
        # killed and the session recorded; the thread finishes even if the wait is cancelled.
        await asyncio.shield(
            asyncio.get_running_loop().run_in_executor(
                None, _finish, pump, operation_id, error, detail
            )
        )


def _finish(
    pump: TerminalPump, operation_id: str, error: str | None, detail: dict[str, Any]
) -> None:
    pump.close()
    finish_access(operation_id, error=error, detail=detail)


async def _close_after_exit(exit_code: int | None) -> None:
    await websocket.send(json.dumps({"type": "exit", "exit_code": exit_code}))
    # The reason carries it too, as JSON: a client that only sees the close (vm-api ws shell)
    await websocket.close(CLOSE_NORMAL, json.dumps({"exit_code": exit_code}))
