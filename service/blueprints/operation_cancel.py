"""POST /api/v1/operations/{id}/cancel: a person's way out of work that has not started."""

from __future__ import annotations

from quart import Blueprint, Response
from quart.utils import run_sync
from quart_schema import document_response

from models.task_control import Refused, cancel_operation
from service import params
from service.auth import require_user, viewer
from service.errors import APIError
from service.responses import json_response
from service.schemas import Error, Operation

blueprint = Blueprint("operation_cancel", __name__, url_prefix="/api/v1")


@blueprint.post("/operations/<operation_id>/cancel")
@document_response(Operation, 200)
@document_response(Error, 404)
@document_response(Error, 409)
@require_user
async def post_cancel(operation_id: str) -> Response:
    """A pending operation is cancelled (its workspace goes back where a failure would leave
    it); a running or finished one is 409, saying which."""
    caller = viewer()
    try:
        record = await run_sync(cancel_operation)(
            params.path_uuid(operation_id), caller.user, caller.scope, "cancelled"
        )
    except Refused as exc:
        code = "OPERATION_RUNNING" if exc.code == "TASK_RUNNING" else "OPERATION_FINISHED"
        raise APIError(409, code, str(exc)) from None
    return json_response(record.to_json())
