"""Admin view of the Docker hosts (docs/deployment.md): which consumers report, which take new
workspaces, how many each holds; and forgetting a host that was taken out of service."""

from __future__ import annotations

from pydantic import BaseModel
from quart import Blueprint, Response, current_app
from quart.utils import run_sync
from quart_schema import document_response

from models.hosts import forget_host, host_states
from service.auth import require_user, viewer
from service.errors import APIError
from service.read_lane import read
from service.responses import json_response
from service.schemas import Error

blueprint = Blueprint("admin_hosts", __name__, url_prefix="/api/v1/admin")


class Host(BaseModel):
    name: str
    docker_url: str | None
    first_seen: str | None
    last_seen: str | None
    live: bool
    unreachable: str | None
    active_workspaces: int


def _require_admin() -> None:
    if not viewer().is_admin:
        raise APIError(403, "ADMIN_REQUIRED", "only an admin (VM_API_ADMINS) sees the Docker hosts")


@blueprint.get("/hosts")
@document_response(list[Host], 200)
@document_response(Error, 403)
@require_user
async def get_hosts() -> Response:
    """Every Docker host a consumer reported from; `live` ones take new workspaces."""
    _require_admin()
    timeout = current_app.config["SETTINGS"].host_timeout
    states = await read(host_states, timeout)
    return json_response([state.to_json() for state in states])


@blueprint.delete("/hosts/<name>")
@document_response(Error, 404)
@document_response(Error, 409)
@require_user
async def delete_host(name: str) -> Response:
    """Forget a host (its consumer stopped for good); refused while workspaces live there."""
    _require_admin()
    try:
        forgotten = await run_sync(forget_host)(name)
    except ValueError as exc:
        raise APIError(409, "HOST_IN_USE", str(exc)) from None
    if not forgotten:
        raise APIError(404, "NOT_FOUND", f"no Docker host named {name!r}")
    return Response(status=204)
