"""The caller: who they are, their limits and their usage."""

from __future__ import annotations

from quart import Blueprint, Response, current_app
from quart_schema import document_response

from models.trash import usage_with_trash
from service.auth import require_user, viewer
from service.read_lane import read
from service.responses import json_response
from service.schemas import Me

blueprint = Blueprint("me", __name__, url_prefix="/api/v1")


@blueprint.get("/me")
@document_response(Me, 200)
@require_user
async def get_me() -> Response:
    settings = current_app.config["SETTINGS"]
    me = viewer()
    return json_response(
        {
            "user": me.user,
            "admin": me.is_admin,
            "limits": {
                "max_workspaces": settings.max_workspaces_per_user or None,
                "max_running": settings.max_running_per_user or None,
            },
            "usage": await read(usage_with_trash, me.user),
        }
    )
