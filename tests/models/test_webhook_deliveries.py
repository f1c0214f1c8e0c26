"""Webhook deliveries made from the change feed, against a real migrated database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from db_support import execute

from models.records import sql_time, utcnow
from models.settings import Settings
from models.webhooks import (
    collect_deliveries,
    overdue_deliveries,
    pending_delivery,
    record_attempt,
)
from models.work import Outcome, claim_operation, complete_operation, fail_operation
from models.workspaces import Limits, NewWorkspace, insert_workspace

pytestmark = pytest.mark.usefixtures("migrated")


def create(name: str, ttl: int | None = None) -> tuple[str, str]:
    workspace, operation = insert_workspace(
        NewWorkspace(owner="alice", name=name, provider="local", ttl_seconds=ttl), Limits()
    )
    return workspace.id, operation.id


def bodies(ids: list[str]) -> list[dict]:
    found = [pending_delivery(delivery_id) for delivery_id in ids]
    return [json.loads(d.body) for d in found if d is not None]


def test_a_failed_create_makes_two_webhooks_once(migrated: Settings) -> None:
    workspace_id, operation_id = create("broken")
    claim_operation(operation_id, 3)
    fail_operation(operation_id, "git clone failed: not found")

    made = bodies(collect_deliveries(0))

    assert [b["type"] for b in made] == ["operation.failed", "workspace.failed"]
    assert made[0]["data"]["error"] == "git clone failed: not found"
    assert made[1]["data"]["id"] == workspace_id
    assert all(set(b) == {"id", "type", "created_at", "data"} for b in made)
    assert collect_deliveries(0) == []  # the cursor moved on


def test_a_success_makes_none() -> None:
    _, operation_id = create("fine")
    claim_operation(operation_id, 3)
    complete_operation(operation_id, Outcome(provider_id="x"))

    assert collect_deliveries(0) == []


def test_an_expiring_workspace_is_announced_once_per_expiry(migrated: Settings) -> None:
    workspace_id, _ = create("soon", ttl=600)
    create("later", ttl=86400)

    first = bodies(collect_deliveries(3600))
    assert [(b["type"], b["data"]["id"]) for b in first] == [("workspace.expiring", workspace_id)]
    assert collect_deliveries(3600) == []

    # An extended TTL that comes close again is announced again.
    later = sql_time(utcnow() + timedelta(seconds=1200))
    execute(migrated, "UPDATE workspaces SET expires_at = ? WHERE id = ?", (later, workspace_id))
    assert [b["type"] for b in bodies(collect_deliveries(3600))] == ["workspace.expiring"]


def test_attempts_end_in_delivery_or_giving_up(migrated: Settings) -> None:
    _, operation_id = create("broken")
    claim_operation(operation_id, 3)
    fail_operation(operation_id, "boom")
    first, second = collect_deliveries(0)

    assert record_attempt(first, "HTTP 500", 10.0) is True
    assert pending_delivery(first).attempts == 1  # type: ignore[union-attr]
    assert record_attempt(first, None, None) is False
    assert pending_delivery(first) is None
    assert record_attempt(second, "HTTP 500", None) is False  # given up
    assert pending_delivery(second) is None


def test_a_lost_delivery_is_found_again_once(migrated: Settings) -> None:
    _, operation_id = create("broken")
    claim_operation(operation_id, 3)
    fail_operation(operation_id, "boom")
    made = collect_deliveries(0)
    long_ago = sql_time(utcnow() - timedelta(minutes=10))
    execute(migrated, "UPDATE webhook_deliveries SET next_attempt_at = ?", (long_ago,))

    assert sorted(overdue_deliveries(60)) == sorted(made)
    assert overdue_deliveries(60) == []
