"""The janitor's part of workspace schedules: start and stop what came due, as normal
operations requested by `schedule`, with the cron line as their reason."""

from __future__ import annotations

import logging

from models.errors import InvalidTransition, NotFound, QuotaExceeded
from models.schedules import due_scheduled_actions
from models.settings import Settings
from models.states import OperationType
from models.workspaces import Limits, request_action
from tasks.dispatch import enqueue_operations

log = logging.getLogger("vm_api.schedules")


def run_schedules(settings: Settings) -> int:
    """Request every due scheduled start or stop; the number requested."""
    limits = Limits(settings.max_workspaces_per_user, settings.max_running_per_user)
    requested: list[tuple[str, str]] = []
    for item in due_scheduled_actions():
        action = OperationType.START if item.action == "start" else OperationType.STOP
        try:
            _, operation = request_action(
                item.workspace_id, None, action, limits, requested_by="schedule", reason=item.reason
            )
        except (InvalidTransition, NotFound) as exc:  # it changed since: nothing to do
            log.info("workspace %s: %s skipped: %s", item.workspace_id, item.action, exc)
            continue
        except QuotaExceeded as exc:
            log.warning("workspace %s: scheduled start refused: %s", item.workspace_id, exc)
            continue
        log.info("workspace %s: %s", item.workspace_id, item.reason)
        requested.append((operation.id, operation.operation_type))
    if requested:
        enqueue_operations(requested)
    return len(requested)
