"""POST /api/v1/workspaces/{id}/activity: a keepalive that holds off the idle auto-stop."""

from __future__ import annotations

from quart import Blueprint, Response
from quart.utils import run_sync
from quart_schema import document_response

from models.activity import keepalive
from service import params
from service.auth import require_user, viewer
from service.responses import json_response
from service.schemas import Error, Workspace

blueprint = Blueprint("activity", __name__, url_prefix="/api/v1")


@blueprint.post("/workspaces/<workspace_id>/activity")
@document_response(Workspace, 200)
@document_response(Error, 404)
@require_user
async def post_activity(workspace_id: str) -> Response:
    """Counts as activity now (as a terminal or an exec would); the answer shows
    `last_activity_at`."""
    record = await run_sync(keepalive)(params.path_uuid(workspace_id), viewer().scope)
    return json_response(record.to_json())
