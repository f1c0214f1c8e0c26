"""Snapshots of a workspace: take, list, restore from, delete."""

from __future__ import annotations

from quart import Blueprint, Response
from quart.utils import run_sync
from quart_schema import document_response, validate_request

from models.snapshots import insert_snapshot, request_snapshot_action, select_snapshots
from models.states import OperationType
from service import params
from service.auth import require_user, viewer
from service.blueprints.workspaces import accepted
from service.read_lane import read
from service.responses import json_response
from service.schemas import (
    Error,
    SnapshotAccepted,
    SnapshotCreate,
    SnapshotList,
    WorkspaceAccepted,
)
from tasks.dispatch import enqueue_operation

blueprint = Blueprint("snapshots", __name__, url_prefix="/api/v1/workspaces/<workspace_id>")


@blueprint.post("/snapshots")
@document_response(SnapshotAccepted, 202)
@document_response(Error, 409)
@require_user
@validate_request(SnapshotCreate)
async def post_snapshot(workspace_id: str, data: SnapshotCreate) -> Response:
    snapshot, operation = await run_sync(insert_snapshot)(
        params.path_uuid(workspace_id), viewer().scope, data.name
    )
    await run_sync(enqueue_operation)(operation.id, operation.operation_type)
    return json_response({**snapshot.to_json(), "operation_id": operation.id}, 202)


@blueprint.get("/snapshots")
@document_response(SnapshotList, 200)
@document_response(Error, 404)
@require_user
async def get_snapshots(workspace_id: str) -> Response:
    records = await read(select_snapshots, params.path_uuid(workspace_id), viewer().scope)
    return json_response([record.to_json() for record in records])


async def _act(workspace_id: str, snapshot_id: str, action: OperationType) -> Response:
    workspace, operation = await run_sync(request_snapshot_action)(
        params.path_uuid(workspace_id), params.path_uuid(snapshot_id), viewer().scope, action
    )
    return await accepted(workspace, operation)


@blueprint.post("/snapshots/<snapshot_id>/restore")
@document_response(WorkspaceAccepted, 202)
@document_response(Error, 409)
@require_user
async def restore_snapshot(workspace_id: str, snapshot_id: str) -> Response:
    return await _act(workspace_id, snapshot_id, OperationType.SNAPSHOT_RESTORE)


@blueprint.delete("/snapshots/<snapshot_id>")
@document_response(WorkspaceAccepted, 202)
@document_response(Error, 404)
@require_user
async def delete_snapshot(workspace_id: str, snapshot_id: str) -> Response:
    return await _act(workspace_id, snapshot_id, OperationType.SNAPSHOT_DELETE)
