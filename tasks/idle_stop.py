"""The janitor's idle auto-stop: a running workspace without activity for its idle timeout is
stopped through a normal stop operation, requested by `janitor`, whose reason says how long it
was idle (models/activity.py says what counts as activity)."""

from __future__ import annotations

import logging

from models.activity import describe_idle, idle_workspaces
from models.errors import InvalidTransition, NotFound
from models.settings import Settings
from models.states import OperationType
from models.workspaces import Limits, request_action
from tasks.dispatch import enqueue_operations

log = logging.getLogger("vm_api.idle")


def run_idle_stop(settings: Settings) -> int:
    stops: list[tuple[str, str]] = []
    for idle in idle_workspaces(settings.heartbeat_timeout):
        reason = describe_idle(idle.idle_seconds)
        try:
            _, operation = request_action(
                idle.workspace_id,
                None,
                OperationType.STOP,
                Limits(),
                requested_by="janitor",
                reason=reason,
            )
        except (InvalidTransition, NotFound):  # it changed since: nothing to stop
            continue
        log.info("workspace %s: stopping, %s", idle.workspace_id, reason)
        stops.append((operation.id, operation.operation_type))
    if stops:
        enqueue_operations(stops)
    return len(stops)
