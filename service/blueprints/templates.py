"""The operator's template catalogue."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app
from quart_schema import document_response

from service.auth import require_user
from service.schemas import TemplateList
from tasks.specs import catalogue_for

blueprint = Blueprint("templates", __name__, url_prefix="/api/v1")


@blueprint.get("/templates")
@document_response(TemplateList, 200)
@require_user
async def get_templates() -> list[dict[str, Any]]:
    return catalogue_for(current_app.config["SETTINGS"]).to_json()  # type: ignore[no-any-return]
