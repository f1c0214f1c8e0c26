"""Operations: the record of every action taken on a workspace."""

from __future__ import annotations

from quart import Blueprint, Response, request
from quart_schema import document_querystring, document_response

from models.operations import select_operation, select_operations
from models.progress import select_operation_logs
from models.states import OPERATION_TYPE_NAMES, OperationStatus
from service import params
from service.auth import require_user, viewer
from service.read_lane import read
from service.responses import json_response
from service.schemas import Error, Operation, OperationList, OperationListQuery, OperationLogs

blueprint = Blueprint("operations", __name__, url_prefix="/api/v1")


@blueprint.get("/operations")
@document_querystring(OperationListQuery)
@document_response(OperationList, 200)
@require_user
async def get_operations() -> Response:
    args = request.args
    params.check_known(args, ("limit", "cursor", "workspace_id", "type", "status"))
    page = await read(
        select_operations,
        viewer().scope,
        params.uuid_param(args, "workspace_id"),
        params.choice(args, "type", list(OPERATION_TYPE_NAMES)),
        params.choice(args, "status", [s.value for s in OperationStatus]),
        params.limit(args),
        args.get("cursor"),
    )
    headers = params.next_link(request.path, args, page.next_cursor)
    return json_response([o.to_json() for o in page.items], 200, headers)


@blueprint.get("/operations/<operation_id>")
@document_response(Operation, 200)
@document_response(Error, 404)
@require_user
async def get_operation(operation_id: str) -> Response:
    record = await read(select_operation, params.path_uuid(operation_id), viewer().scope)
    return json_response(record.to_json())


@blueprint.get("/operations/<operation_id>/logs")
@document_response(OperationLogs, 200)
@document_response(Error, 404)
@require_user
async def get_operation_logs(operation_id: str) -> Response:
    """The operation's progress lines ("cloning 40 %", "starting container"), oldest first."""
    lines = await read(select_operation_logs, params.path_uuid(operation_id), viewer().scope)
    return json_response({"lines": [{"at": item.at, "line": item.line} for item in lines]})
