"""Exec: run one command in a workspace and answer its exit code and output."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path

from quart import Blueprint, Response
from quart.utils import run_sync
from quart_schema import document_response, validate_request

from models.access import begin_access, finish_access
from models.records import WorkspaceRecord
from models.states import AccessType
from service import access
from service.auth import require_user, viewer
from service.errors import APIError
from service.responses import json_response
from service.schemas import Error, ExecRequest, ExecResult
from tasks.providers import direct_provider
from tasks.providers.docker_exec import ExecRefused, run_exec
from tasks.providers.exec_output import ExecResult as Result
from tasks.providers.local import LocalProvider
from tasks.providers.local_exec import run_local_exec
from tasks.specs import spec_for

blueprint = Blueprint("workspace_exec", __name__, url_prefix="/api/v1")


def _outcome(result: Result, timeout: int) -> str | None:
    """The operation's error: None when the command exited 0."""
    if result.timed_out:
        return f"timed out after {timeout} s and was killed"
    if result.exit_code != 0:
        return f"exit code {result.exit_code}"
    return None


def _recorded(
    operation_id: str, timeout: int, heartbeat_timeout: float, run: Callable[[], Result]
) -> Result:
    """Run and record how it ended, in the same thread: a client that hangs up does not leave
    the operation `running`."""
    try:
        with access.heartbeat(operation_id, heartbeat_timeout):
            result = run()
    except Exception as error:
        finish_access(operation_id, error=str(error) or type(error).__name__)
        raise
    detail = {
        "exit_code": result.exit_code,
        "duration_ms": result.duration_ms,
        "timed_out": result.timed_out,
        "truncated": result.truncated,
    }
    finish_access(operation_id, error=_outcome(result, timeout), detail=detail)
    return result


def _local_runner(
    workspace: WorkspaceRecord, data: ExecRequest, argv: list[str]
) -> Callable[[], Result]:
    settings = access.settings()
    if not settings.allow_local_exec:
        raise APIError(
            403,
            "EXEC_DISABLED",
            "exec in a local workspace runs on the server itself; the operator has not "
            "allowed it (VM_API_ALLOW_LOCAL_EXEC)",
        )
    provider = direct_provider("local", settings)
    assert isinstance(provider, LocalProvider)
    folder = provider._path(workspace.id)
    if data.workdir is not None:
        inner = (folder / data.workdir.lstrip("/")).resolve()
        if not inner.is_relative_to(folder.resolve()):
            raise APIError(400, "PATH_OUTSIDE_WORKSPACE", "workdir must be inside the workspace")
        folder = inner
    stdin = data.stdin.encode() if data.stdin is not None else None

    def run() -> Result:
        return run_local_exec(
            Path(folder), argv, env=data.env, stdin=stdin, timeout=data.timeout_seconds
        )

    return run


def _docker_runner(
    workspace: WorkspaceRecord, data: ExecRequest, argv: list[str]
) -> Callable[[], Result]:
    settings = access.settings()
    provider = access.docker_provider(workspace)
    default = spec_for(workspace, settings).workdir
    workdir = posixpath.join(default, data.workdir) if data.workdir else default
    stdin = data.stdin.encode() if data.stdin is not None else None

    def run() -> Result:
        with access.docker_errors("run the command"):
            return run_exec(
                provider.client(),
                access.container_of(workspace),
                argv,
                workdir=workdir,
                env=data.env,
                stdin=stdin,
                timeout=data.timeout_seconds,
            )

    return run


@blueprint.post("/workspaces/<workspace_id>/exec")
@document_response(ExecResult, 200)
@document_response(Error, 403)
@document_response(Error, 404)
@document_response(Error, 409)
@require_user
@validate_request(ExecRequest)
async def post_exec(workspace_id: str, data: ExecRequest) -> Response:
    """Run a command in the workspace; `timed_out` commands are killed inside it."""
    workspace = await access.visible_workspace(workspace_id)
    argv = ["sh", "-c", data.command] if isinstance(data.command, str) else list(data.command)
    if workspace.provider == "local":
        run = _local_runner(workspace, data, argv)
    else:
        run = _docker_runner(workspace, data, argv)
    access.require_running(workspace)
    detail = {"command": argv, "workdir": data.workdir, "timeout_seconds": data.timeout_seconds}
    record = await run_sync(begin_access)(
        workspace.id, workspace.owner, AccessType.EXEC, viewer().user, detail
    )
    try:
        result = await access.in_thread(
            _recorded, record.id, data.timeout_seconds, access.settings().heartbeat_timeout, run
        )
    except ExecRefused as error:
        raise APIError(409, "NOT_RUNNING", f"cannot run the command: {error}") from error
    return json_response(result.to_json())
