"""The trash: deleted workspaces kept with their final snapshot (docs/trash.md)."""

from __future__ import annotations

from pydantic import ValidationError
from quart import Blueprint, Response, current_app, request
from quart.utils import run_sync
from quart_schema import RequestSchemaValidationError, document_request, document_response

from models.settings import Settings
from models.trash import purge_from_trash, restore_from_trash, select_trash, select_trash_entry
from models.workspaces import Limits
from service import params
from service.auth import require_user, viewer
from service.blueprints.workspaces import accepted
from service.read_lane import read
from service.responses import json_response
from service.schemas import Error, WorkspaceAccepted
from service.trash_schemas import TrashEntry, TrashList, TrashPurged, TrashRestore
from tasks.dispatch import enqueue_operation

blueprint = Blueprint("trash", __name__, url_prefix="/api/v1/trash")


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


@blueprint.get("")
@document_response(TrashList, 200)
@require_user
async def get_trash() -> Response:
    """The caller's deleted workspaces that can still be restored (an admin sees everyone's)."""
    params.check_known(request.args, ())
    return json_response({"items": await read(select_trash, viewer().scope)})


@blueprint.get("/<trash_id>")
@document_response(TrashEntry, 200)
@document_response(Error, 404)
@require_user
async def get_trash_entry(trash_id: str) -> Response:
    entry = await read(select_trash_entry, params.path_uuid(trash_id), viewer().scope)
    return json_response(entry)


@blueprint.post("/<trash_id>/restore")
@document_response(WorkspaceAccepted, 202)
@document_response(Error, 409)
@document_request(TrashRestore)
@require_user
async def restore(trash_id: str) -> Response:
    """Bring the workspace back from its final snapshot, under its old name or `name`. The
    body is optional: none restores under the old name."""
    data = await _restore_request()
    settings = _settings()
    limits = Limits(settings.max_workspaces_per_user, settings.max_running_per_user)
    workspace, operation = await run_sync(restore_from_trash)(
        params.path_uuid(trash_id), viewer().scope, data.name, limits
    )
    return await accepted(workspace, operation)


async def _restore_request() -> TrashRestore:
    body = await request.get_data()
    if not body.strip():
        return TrashRestore()
    try:
        return TrashRestore.model_validate_json(body)
    except ValidationError as exc:
        raise RequestSchemaValidationError(exc) from None


@blueprint.delete("/<trash_id>")
@document_response(TrashPurged, 202)
@document_response(Error, 404)
@require_user
async def purge(trash_id: str) -> Response:
    """Purge now: the entry goes at once, its final snapshot with the operation returned."""
    caller = viewer()
    operation = await run_sync(purge_from_trash)(
        params.path_uuid(trash_id), caller.scope, caller.user
    )
    await run_sync(enqueue_operation)(operation.id, operation.operation_type)
    return json_response({"id": operation.workspace_id, "operation_id": operation.id}, 202)
