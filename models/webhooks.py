"""Webhook deliveries in the database: made from the change feed, tried until delivered.

`collect_deliveries` turns new change events (and workspaces about to expire) into delivery
rows in one transaction with the cursor that says how far it got, so each event becomes
exactly one delivery however often it runs or crashes. A delivery is then tried until the
receiver answers 2xx or a day has passed: at least once, so receivers dedupe by its `id`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pony.orm import db_session

from models.change_events import ChangeEvent, events_after
from models.dialect import execute_many, workspace_json
from models.reads import stored_moment
from models.records import rfc3339, sql_time, utcnow
from models.store import active, write_session

EVENT_BATCH = 500
GIVE_UP_AFTER = timedelta(days=1)
KEEP_DELIVERED = timedelta(days=7)
EVENT_TYPES = (
    "workspace.expiring",
    "workspace.idle_stopped",
    "workspace.failed",
    "workspace.deleted",
    "operation.failed",
)


@dataclass(frozen=True)
class Delivery:
    id: str
    event_type: str
    body: str
    attempts: int
    created_at: datetime


def _webhook_of(event: ChangeEvent) -> tuple[str, dict[str, Any]] | None:
    """The webhook a change event makes, as (type, data), or None for the many that make none."""
    data = json.loads(event.data)
    if event.type == "workspace.deleted":
        return "workspace.deleted", data["workspace"]
    if event.type == "workspace.status" and data["status"] == "failed":
        return "workspace.failed", data["workspace"]
    if event.type != "operation.finished":
        return None
    operation = data["operation"]
    if data["status"] == "failed":
        return "operation.failed", operation
    stopped_when_idle = (
        operation.get("operation_type") == "stop"
        and operation.get("requested_by") == "janitor"
        and (operation.get("reason") or "").startswith("idle")
    )
    if data["status"] == "success" and stopped_when_idle:
        workspace = _workspace_json(operation["workspace_id"])
        return "workspace.idle_stopped", {**(workspace or {}), "reason": operation["reason"]}
    return None


def _workspace_json(workspace_id: str) -> dict[str, Any] | None:
    rows = active().db.select(
        f"SELECT {workspace_json()} FROM workspaces WHERE id = $workspace_id",
        {},
        {"workspace_id": workspace_id},
    )
    return json.loads(rows[0]) if rows else None


def _insert(event_type: str, data: dict[str, Any], now: datetime) -> str:
    delivery_id = str(uuid.uuid4())
    body = json.dumps(
        {"id": delivery_id, "type": event_type, "created_at": rfc3339(now), "data": data},
        separators=(",", ":"),
    )
    active().db.execute(
        "INSERT INTO webhook_deliveries (id, event_type, body, created_at, next_attempt_at)"
        " VALUES ($delivery_id, $event_type, $body, $now, $now)",
        {},
        {"delivery_id": delivery_id, "event_type": event_type, "body": body, "now": sql_time(now)},
    )
    return delivery_id


def _cursor() -> int:
    # One row, made by the migration at the end of the feed as it was then.
    return int(active().db.select("SELECT last_event_id FROM webhook_cursor WHERE id = 1")[0])


def _expiring(warning_seconds: int, now: datetime) -> list[str]:
    db = active().db
    rows = db.select(
        f"SELECT id, expires_at, {workspace_json()} FROM workspaces"
        " WHERE status NOT IN ('deleted', 'deleting') AND expires_at IS NOT NULL"
        " AND expires_at > $now AND expires_at <= $horizon"
        " AND (expiry_warned_for IS NULL OR expiry_warned_for <> expires_at)",
        {},
        {"now": sql_time(now), "horizon": sql_time(now + timedelta(seconds=warning_seconds))},
    )
    made = []
    for workspace_id, expires_at, body in rows:
        made.append(_insert("workspace.expiring", json.loads(body), now))
        db.execute(
            "UPDATE workspaces SET expiry_warned_for = $expires_at WHERE id = $workspace_id",
            {},
            {"expires_at": expires_at, "workspace_id": workspace_id},
        )
    return made


@write_session
def collect_deliveries(warning_seconds: int) -> list[str]:
    """New deliveries from the change feed and from workspaces about to expire; their ids."""
    now = utcnow()
    after = _cursor()
    made = _expiring(warning_seconds, now)
    events = events_after(after, EVENT_BATCH)
    for event in events:
        webhook = _webhook_of(event)
        if webhook is not None:
            made.append(_insert(webhook[0], webhook[1], now))
    if events:
        active().db.execute(
            "UPDATE webhook_cursor SET last_event_id = $last WHERE id = 1",
            {},
            {"last": events[-1].id},
        )
    return made


@db_session
def pending_delivery(delivery_id: str) -> Delivery | None:
    """The delivery, unless it was delivered or given up on already."""
    rows = active().db.select(
        "SELECT id, event_type, body, attempts, created_at FROM webhook_deliveries"
        " WHERE id = $delivery_id AND delivered_at IS NULL AND gave_up_at IS NULL",
        {},
        {"delivery_id": delivery_id},
    )
    if not rows:
        return None
    row = rows[0]
    return Delivery(row[0], row[1], row[2], row[3], stored_moment(row[4]))  # type: ignore[arg-type]


@write_session
def record_attempt(delivery_id: str, error: str | None, retry_in: float | None) -> bool:
    """One attempt's outcome: delivered (error None), another try in `retry_in` seconds, or
    given up (retry_in None). True while more attempts will follow."""
    now = utcnow()
    params: dict[str, Any] = {"delivery_id": delivery_id, "now": sql_time(now), "error": error}
    if error is None:
        sql = "delivered_at = $now, last_error = NULL"
    elif retry_in is None:
        sql = "gave_up_at = $now, last_error = $error"
    else:
        sql = "next_attempt_at = $next, last_error = $error"
        params["next"] = sql_time(now + timedelta(seconds=retry_in))
    active().db.execute(
        f"UPDATE webhook_deliveries SET attempts = attempts + 1, {sql} WHERE id = $delivery_id",
        {},
        params,
    )
    return error is not None and retry_in is not None


@write_session
def overdue_deliveries(grace_seconds: int) -> list[str]:
    """Deliveries whose next attempt should have happened a while ago: their queued task was
    lost (a crash, a flushed queue). The sweep enqueues them again; their due time moves to
    now, so that the next sweep does not enqueue them a second time."""
    now = utcnow()
    db = active().db
    ids = list(
        db.select(
            "SELECT id FROM webhook_deliveries WHERE delivered_at IS NULL AND gave_up_at IS NULL"
            " AND next_attempt_at < $before",
            {},
            {"before": sql_time(now - timedelta(seconds=grace_seconds))},
        )
    )
    if ids:
        execute_many(
            "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?",
            [(sql_time(now), delivery_id) for delivery_id in ids],
        )
    return ids


@db_session
def purge_deliveries() -> int:
    """Delivered or abandoned deliveries older than a week."""
    cursor = active().db.execute(
        "DELETE FROM webhook_deliveries WHERE created_at < $before"
        " AND (delivered_at IS NOT NULL OR gave_up_at IS NOT NULL)",
        {},
        {"before": sql_time(utcnow() - KEEP_DELIVERED)},
    )
    return int(cursor.rowcount)
