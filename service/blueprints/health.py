"""Liveness and readiness."""

from __future__ import annotations

from pony.orm import db_session
from quart import Blueprint, Response
from quart.utils import run_sync
from quart_schema import document_response

from models.store import active
from service import __version__
from service.responses import json_response
from service.schemas import Health, Readiness
from tasks.queue import queue_is_reachable

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
@document_response(Health, 200)
async def get_health() -> Response:
    return json_response({"status": "ok", "service": "vm-api", "version": __version__})


@db_session
def _database_answers() -> bool:
    try:
        active().db.select("SELECT 1 FROM workspaces LIMIT 1")
    except Exception:
        return False
    return True


@blueprint.get("/health/ready")
@document_response(Readiness, 200)
@document_response(Readiness, 503)
async def get_ready() -> Response:
    database = await run_sync(_database_answers)()
    queue = await run_sync(queue_is_reachable)()
    body = {
        "status": "ready" if database and queue else "not_ready",
        "database": "connected" if database else "unavailable",
        "queue": "connected" if queue else "unavailable",
    }
    return json_response(body, 200 if database and queue else 503)
