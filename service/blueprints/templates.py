"""The operator's template catalogue."""

from __future__ import annotations

from quart import Blueprint, Response, current_app
from quart_schema import document_response

from models.catalogue import catalogue_for
from service.auth import require_user
from service.responses import json_response
from service.schemas import TemplateList

blueprint = Blueprint("templates", __name__, url_prefix="/api/v1")


@blueprint.get("/templates")
@document_response(TemplateList, 200)
@require_user
async def get_templates() -> Response:
    return json_response(catalogue_for(current_app.config["SETTINGS"]).to_json())
