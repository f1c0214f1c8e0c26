"""Workspaces: list, create, read, update, delete, and lifecycle actions."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, request
from quart.utils import run_sync
from quart_schema import document_querystring, document_response, validate_request

from models.catalogue import catalogue_for
from models.reads import select_workspace_json, select_workspaces_json
from models.records import OperationRecord, WorkspaceRecord
from models.settings import Settings
from models.states import VISIBLE_STATUSES, OperationType
from models.trash import request_kept_delete
from models.workspaces import (
    UNSET,
    Limits,
    NewWorkspace,
    insert_workspace,
    request_action,
    update_workspace,
)
from service import params
from service.auth import require_user, viewer
from service.errors import APIError
from service.force_delete import force_delete
from service.read_lane import read
from service.responses import json_response, json_text_response
from service.schemas import (
    Error,
    Workspace,
    WorkspaceAccepted,
    WorkspaceCreate,
    WorkspaceList,
    WorkspaceListQuery,
    WorkspaceSchedule,
    WorkspaceUpdate,
)
from service.validation import (
    check_provider,
    check_repo_ref,
    check_repo_url,
    check_resources,
    check_template,
)
from tasks.dispatch import enqueue_operation

blueprint = Blueprint("workspaces", __name__, url_prefix="/api/v1")


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _limits() -> Limits:
    settings = _settings()
    return Limits(
        settings.max_workspaces_per_user, settings.max_running_per_user, settings.host_timeout
    )


def _idle_timeout(asked: int | None, template_default: int | None) -> int:
    """The request's, else the template's, else the operator's VM_API_IDLE_TIMEOUT."""
    for value in (asked, template_default):
        if value is not None:
            return value
    return _settings().idle_timeout


def _checked_schedule(schedule: WorkspaceSchedule | None) -> dict[str, str] | None:
    if schedule is None:
        return None
    try:
        return schedule.stored()
    except ValueError as exc:
        raise APIError(400, "INVALID_SCHEDULE", str(exc)) from None


async def accepted(workspace: WorkspaceRecord, operation: OperationRecord) -> Response:
    """Enqueue only now that the operation is committed, then answer 202."""
    await run_sync(enqueue_operation)(operation.id, operation.operation_type)
    return json_response({**workspace.to_json(), "operation_id": operation.id}, 202)


@blueprint.get("/workspaces")
@document_querystring(WorkspaceListQuery)
@document_response(WorkspaceList, 200)
@require_user
async def get_workspaces() -> Response:
    args = request.args
    params.check_known(args, ("limit", "cursor", "status"))
    status = params.choice(args, "status", VISIBLE_STATUSES)
    body, next_cursor = await read(
        select_workspaces_json, viewer().scope, status, params.limit(args), args.get("cursor")
    )
    return json_text_response(body, params.next_link(request.path, args, next_cursor))


@blueprint.post("/workspaces")
@document_response(Workspace, 201)
@document_response(Error, 400)
@document_response(Error, 409)
@require_user
@validate_request(WorkspaceCreate)
async def post_workspace(data: WorkspaceCreate) -> Response:
    settings = _settings()
    provider = check_provider(settings.default_provider if data.provider is None else data.provider)
    template = check_template(data.template, catalogue_for(settings))
    cpus, memory_mb = check_resources(template, data.cpus, data.memory_mb)
    if data.repo_url is not None:
        check_repo_url(data.repo_url, settings)
    if data.repo_ref is not None:
        check_repo_ref(data.repo_ref, data.repo_url)
    schedule = _checked_schedule(data.schedule)
    new = NewWorkspace(
        owner=viewer().user,
        name=data.name,
        provider=provider,
        repo_url=data.repo_url,
        repo_ref=data.repo_ref,
        template=template.name,
        ttl_seconds=data.ttl_seconds,
        metadata=data.metadata,
        cpus=cpus,
        memory_mb=memory_mb,
        schedule=schedule,
        idle_timeout_seconds=_idle_timeout(
            data.idle_timeout_seconds, template.idle_timeout_seconds
        ),
    )
    workspace, operation = await run_sync(insert_workspace)(new, _limits())
    await run_sync(enqueue_operation)(operation.id, operation.operation_type)
    location = f"/api/v1/workspaces/{workspace.id}"
    return json_response(workspace.to_json(), 201, {"Location": location})


@blueprint.get("/workspaces/<workspace_id>")
@document_response(Workspace, 200)
@document_response(Error, 404)
@require_user
async def get_workspace(workspace_id: str) -> Response:
    body = await read(select_workspace_json, params.path_uuid(workspace_id), viewer().scope)
    return json_text_response(body)


@blueprint.patch("/workspaces/<workspace_id>")
@document_response(Workspace, 200)
@document_response(Error, 404)
@require_user
@validate_request(WorkspaceUpdate)
async def patch_workspace(workspace_id: str, data: WorkspaceUpdate) -> Response:
    given = data.model_fields_set
    changes: dict[str, Any] = {
        "name": data.name if "name" in given and data.name is not None else UNSET,
        "metadata": data.metadata if "metadata" in given and data.metadata is not None else UNSET,
        # null clears the TTL; a number counts from now
        "ttl_seconds": data.ttl_seconds if "ttl_seconds" in given else UNSET,
        # null clears the schedule
        "schedule": _checked_schedule(data.schedule) if "schedule" in given else UNSET,
        # null goes back to the operator's default
        "idle_timeout_seconds": (
            _idle_timeout(data.idle_timeout_seconds, None)
            if "idle_timeout_seconds" in given
            else UNSET
        ),
    }
    record = await run_sync(update_workspace)(
        params.path_uuid(workspace_id), viewer().scope, **changes
    )
    return json_response(record.to_json())


@blueprint.delete("/workspaces/<workspace_id>")
@document_response(WorkspaceAccepted, 202)
@document_response(Error, 404)
@require_user
async def delete_workspace(workspace_id: str) -> Response:
    """`?force=true` takes the workspace out of the database at once (docs/force-delete.md);
    `?keep=true` keeps it in the trash with a final snapshot (docs/trash.md)."""
    params.check_known(request.args, ("force", "keep"))
    force, keep = params.flag(request.args, "force"), params.flag(request.args, "keep")
    if force and keep:
        raise APIError(400, "VALIDATION_ERROR", "force and keep exclude each other", field="keep")
    if force:
        return await force_delete(params.path_uuid(workspace_id), _settings())
    if keep:
        return await _delete_keeping(workspace_id)
    return await _act(workspace_id, OperationType.DELETE)


async def _delete_keeping(workspace_id: str) -> Response:
    retention = _settings().trash_retention
    if not retention:
        raise APIError(409, "TRASH_OFF", "this server keeps no trash (VM_API_TRASH_RETENTION=0)")
    workspace, operation = await run_sync(request_kept_delete)(
        params.path_uuid(workspace_id), viewer().scope, retention
    )
    return await accepted(workspace, operation)


async def _act(workspace_id: str, action: OperationType) -> Response:
    workspace, operation = await run_sync(request_action)(
        params.path_uuid(workspace_id), viewer().scope, action, _limits()
    )
    return await accepted(workspace, operation)


@blueprint.post("/workspaces/<workspace_id>/start")
@document_response(WorkspaceAccepted, 202)
@document_response(Error, 409)
@require_user
async def start_workspace(workspace_id: str) -> Response:
    return await _act(workspace_id, OperationType.START)


@blueprint.post("/workspaces/<workspace_id>/stop")
@document_response(WorkspaceAccepted, 202)
@document_response(Error, 409)
@require_user
async def stop_workspace(workspace_id: str) -> Response:
    return await _act(workspace_id, OperationType.STOP)


@blueprint.post("/workspaces/<workspace_id>/restart")
@document_response(WorkspaceAccepted, 202)
@document_response(Error, 409)
@require_user
async def restart_workspace(workspace_id: str) -> Response:
    return await _act(workspace_id, OperationType.RESTART)


@blueprint.post("/workspaces/<workspace_id>/rebuild")
@document_response(WorkspaceAccepted, 202)
@document_response(Error, 409)
@require_user
async def rebuild_workspace(workspace_id: str) -> Response:
    return await _act(workspace_id, OperationType.REBUILD)
