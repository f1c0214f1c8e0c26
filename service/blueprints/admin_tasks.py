"""Admin views of the task queue: the same queries as `vm-api tasks` (tasks/inspection.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from quart import Blueprint, Response, current_app, request
from quart.utils import run_sync
from quart_schema import document_querystring, document_response

from models.errors import NotFound
from models.task_control import Refused
from service import params
from service.auth import require_user, viewer
from service.errors import APIError
from service.read_lane import read
from service.responses import json_response
from service.schemas import Error
from tasks.inspection import STATES, TaskView

blueprint = Blueprint("admin_tasks", __name__, url_prefix="/api/v1/admin")
EXTENSION_KEY = "vm_api.task_view"


class TaskListQuery(BaseModel):
    state: Literal["pending", "scheduled", "running", "recent"] = "recent"
    task: str | None = None
    limit: int | None = None


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class TaskRow(Loose):
    task: str
    task_id: str
    workspace_id: str | None
    operation_id: str | None
    outcome: str | None
    duration: float | None
    retries: int
    error: str | None
    host: str | None = None  # pending and scheduled: the Docker host whose queue holds it


def _view() -> TaskView:
    view = current_app.extensions.get(EXTENSION_KEY)
    if view is None:
        view = current_app.extensions[EXTENSION_KEY] = TaskView(current_app.config["SETTINGS"])
    return view  # type: ignore[no-any-return]


def _require_admin() -> str:
    who = viewer()
    if not who.is_admin:
        raise APIError(403, "ADMIN_REQUIRED", "only an admin (VM_API_ADMINS) sees the task queue")
    return who.user


def _refused(exc: Refused) -> APIError:
    return APIError(409, exc.code, str(exc))


@blueprint.get("/queue")
@document_response(Loose, 200)
@document_response(Error, 403)
@require_user
async def get_queue() -> Response:
    """The overview: queue depth, oldest pending, running now, the last hour."""
    _require_admin()
    return json_response(await read(_view().overview))


@blueprint.get("/tasks")
@document_querystring(TaskListQuery)
@document_response(list[TaskRow], 200)
@document_response(Error, 403)
@require_user
async def get_tasks() -> Response:
    _require_admin()
    args = request.args
    params.check_known(args, ("state", "task", "limit"))
    state = params.choice(args, "state", STATES) or "recent"
    limit = params.limit(args) if "limit" in args else 20
    rows = await read(_view().list_tasks, state, args.get("task"), limit)
    return json_response(rows)


@blueprint.get("/tasks/<task_id>")
@document_response(Loose, 200)
@document_response(Error, 404)
@require_user
async def get_task(task_id: str) -> Response:
    """A task id or an operation id: its operation, events and error."""
    _require_admin()
    data = await read(_view().show, params.path_uuid(task_id))
    if data is None:
        raise APIError(404, "NOT_FOUND", f"no task or operation {task_id}")
    return json_response(data)


@blueprint.post("/tasks/<task_id>/revoke")
@document_response(Loose, 200)
@document_response(Error, 409)
@require_user
async def post_task_revoke(task_id: str) -> Response:
    by = _require_admin()
    try:
        data = await run_sync(_view().revoke)(params.path_uuid(task_id), by)
    except Refused as exc:
        raise _refused(exc) from None
    except (LookupError, NotFound):
        raise APIError(404, "NOT_FOUND", f"no task or operation {task_id}") from None
    return json_response(data)


@blueprint.post("/operations/<operation_id>/retry")
@document_response(Loose, 202)
@document_response(Error, 409)
@require_user
async def post_operation_retry(operation_id: str) -> Response:
    by = _require_admin()
    try:
        data: dict[str, Any] = await run_sync(_view().retry)(params.path_uuid(operation_id), by)
    except Refused as exc:
        raise _refused(exc) from None
    except NotFound:
        raise APIError(404, "NOT_FOUND", f"no operation {operation_id}") from None
    return json_response(data, 202)
