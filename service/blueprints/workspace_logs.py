"""Logs: a workspace container's own output (its main process's stdout and stderr)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from docker import APIClient
from docker.types import CancellableStream
from quart import Blueprint, Response, request
from quart_schema import document_querystring, document_response

from models.records import WorkspaceRecord
from service import access, params
from service.auth import require_user
from service.draining import when_draining
from service.errors import APIError
from service.schemas import Error, LogsQuery
from tasks.providers.docker_logs import follow_client, follow_logs, log_tail

blueprint = Blueprint("workspace_logs", __name__, url_prefix="/api/v1")

DEFAULT_TAIL = 100
MAX_TAIL = 100_000
_END = object()


def _tail(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_TAIL
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_TAIL:
        raise APIError(400, "INVALID_PARAMETER", f"tail: must be a whole number 0 to {MAX_TAIL}")
    return int(raw)


def _follow(raw: str | None) -> bool:
    if raw in (None, "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise APIError(400, "INVALID_PARAMETER", "follow: must be true or false")


def _open_follow(workspace: WorkspaceRecord, tail: int) -> tuple[APIClient, CancellableStream]:
    """The stream, opened (so that a missing container or daemon is an error before the 200)."""
    provider = access.docker_provider(workspace)
    api = follow_client(provider.base_url, provider.client().api.api_version)
    try:
        return api, follow_logs(api, access.container_of(workspace), tail)
    except BaseException:
        api.close()
        raise


async def _pump(api: APIClient, stream: CancellableStream) -> AsyncIterator[bytes]:
    """Every chunk as Docker sends it, until the container stops or the client leaves: the
    generator is then cancelled at its await, and closing the stream (a socket shutdown) ends
    the thread's blocked read. A server that stops ends it the same way (service/draining.py)."""

    async def stop() -> None:
        with contextlib.suppress(Exception):
            await access.in_thread(stream.close)

    undrain = when_draining(stop)
    try:
        while True:
            chunk = await access.in_thread(next, stream, _END)
            if chunk is _END:
                return
            yield chunk  # type: ignore[misc]
    finally:
        undrain()
        with contextlib.suppress(Exception):
            stream.close()
        api.close()


@blueprint.get("/workspaces/<workspace_id>/logs")
@document_querystring(LogsQuery)
@document_response(Error, 404)
@document_response(Error, 409)
@require_user
async def get_logs(workspace_id: str) -> Response:
    """The container's output as text/plain: the last `tail` lines (default 100), and with
    `follow=true` every new line until the client leaves."""
    workspace = await access.visible_workspace(workspace_id)
    params.check_known(request.args, ("tail", "follow"))
    tail, follow = _tail(request.args.get("tail")), _follow(request.args.get("follow"))
    if workspace.provider == "local":
        raise APIError(
            409, "LOGS_UNSUPPORTED", "a local workspace is a folder: it has no process output"
        )
    if not follow:
        provider = access.docker_provider(workspace)
        with access.docker_errors("read the logs"):
            text = await access.in_thread(
                lambda: log_tail(provider.client(), access.container_of(workspace), tail)
            )
        return Response(text, mimetype="text/plain")
    access.require_running(workspace)
    with access.docker_errors("follow the logs"):
        api, stream = await access.in_thread(_open_follow, workspace, tail)
    response = Response(_pump(api, stream), mimetype="text/plain")
    response.timeout = None  # else Quart ends the stream silently after 60 s
    return response
