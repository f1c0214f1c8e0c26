"""Schedules run by the janitor of a real `vm-api`: a due autostop stops, a hand start stays
started until the next scheduled time, a due autostart starts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from db_support import execute
from harness import RunningService, wait_for_status

from models.records import sql_time, utcnow

pytestmark = pytest.mark.slow

# Every day at 19:00 and 08:30 in Berlin: both have happened at least once in the last day.
SCHEDULE = {"autostart": "30 8 * * *", "autostop": "0 19 * * *", "timezone": "Europe/Berlin"}


def last_looked_a_day_ago(service: RunningService, workspace_id: str, key: str) -> None:
    """As if the janitor had last looked a day ago, with only `key`'s time in the schedule: the
    janitor then finds exactly that time due (the time passing, without waiting for it)."""
    execute(
        service.config.settings(),
        "UPDATE workspaces SET schedule = ?, schedule_checked_at = ? WHERE id = ?",
        (
            json.dumps({key: SCHEDULE[key], "timezone": SCHEDULE["timezone"]}),
            sql_time(utcnow() - timedelta(days=1)),
            workspace_id,
        ),
    )


def last_operation(service: RunningService, workspace_id: str) -> dict[str, Any]:
    response = service.client.get("/api/v1/operations", params={"workspace_id": workspace_id})
    return response.json()[0]  # type: ignore[no-any-return]


def test_the_janitor_follows_the_schedule(service_factory: Callable[..., RunningService]) -> None:
    service = service_factory(VM_API_JANITOR_INTERVAL="1")
    api = service.client
    created = api.post("/api/v1/workspaces", json={"name": "office", "schedule": SCHEDULE}).json()
    workspace_id = created["id"]
    wait_for_status(api, workspace_id, ("running",), timeout=30)

    last_looked_a_day_ago(service, workspace_id, "autostop")
    wait_for_status(api, workspace_id, ("stopped",), timeout=30)
    stop = last_operation(service, workspace_id)
    assert stop["operation_type"] == "stop"
    assert stop["requested_by"] == "schedule"
    assert stop["reason"] == "scheduled stop (0 19 * * * Europe/Berlin)"

    # Started by hand: the janitor leaves it running (no scheduled time came since).
    assert api.post(f"/api/v1/workspaces/{workspace_id}/start").status_code == 202
    wait_for_status(api, workspace_id, ("running",), timeout=30)
    time.sleep(3)  # several janitor runs
    assert api.get(f"/api/v1/workspaces/{workspace_id}").json()["status"] == "running"

    assert api.post(f"/api/v1/workspaces/{workspace_id}/stop").status_code == 202
    wait_for_status(api, workspace_id, ("stopped",), timeout=30)
    last_looked_a_day_ago(service, workspace_id, "autostart")
    wait_for_status(api, workspace_id, ("running",), timeout=30)
    start = last_operation(service, workspace_id)
    assert (start["operation_type"], start["requested_by"]) == ("start", "schedule")
