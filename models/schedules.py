"""Workspace schedules: `autostart` and `autostop` as cron expressions in a time zone.

    {"autostart": "30 8 * * 1-5", "autostop": "0 19 * * 1-5", "timezone": "Europe/Berlin"}

The janitor asks, each run, which of the two came due since it last looked; only the latest
counts, and only its own times: a workspace stopped by hand stays stopped until the next
autostart. croniter works in the zone's local time, so 08:30 stays 08:30 across daylight-saving
changes (a time that does not exist that day runs at the first moment after the change).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, croniter

from models.reads import stored_moment
from models.records import sql_time, utcnow
from models.store import active, write_session

KEYS = ("autostart", "autostop", "timezone")
ACTIONS = {"autostart": "start", "autostop": "stop"}


def parse_schedule(value: Any) -> dict[str, str]:
    """The schedule as stored, or ValueError with a message for the caller."""
    if not isinstance(value, dict):
        raise ValueError("schedule must be an object with autostart, autostop and timezone")
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise ValueError(f"schedule: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    timezone = value.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise ValueError("schedule.timezone must be an IANA time zone such as 'Europe/Berlin'")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"schedule.timezone: unknown time zone {timezone!r}") from None
    parsed = {"timezone": timezone}
    for key in ("autostart", "autostop"):
        expression = value.get(key)
        if expression is None:
            continue
        if not isinstance(expression, str) or len(expression.split()) != 5:
            raise ValueError(
                f"schedule.{key} must be a 5-field cron expression, got {expression!r}"
            )
        try:
            croniter(expression)
        except (CroniterBadCronError, ValueError, KeyError) as exc:
            raise ValueError(f"schedule.{key}: not a valid cron expression: {exc}") from None
        parsed[key] = expression
    if len(parsed) == 1:
        raise ValueError("schedule needs autostart, autostop or both")
    return parsed


def due(schedule: dict[str, str], since: datetime, now: datetime) -> tuple[str, datetime] | None:
    """The action ('start' or 'stop') whose time came latest in (since, now], with that time;
    None if neither came. Times are naive UTC, as stored."""
    zone = ZoneInfo(schedule.get("timezone", "UTC"))
    start = since.replace(tzinfo=UTC).astimezone(zone)
    end = now.replace(tzinfo=UTC)
    fired: list[tuple[datetime, str]] = []
    for key, action in ACTIONS.items():
        if key not in schedule:
            continue
        moment = croniter(schedule[key], start).get_next(datetime)
        if moment <= end:
            # The latest time of this kind in the window, not the first.
            while (following := croniter(schedule[key], moment).get_next(datetime)) <= end:
                moment = following
            fired.append((moment, action))
    if not fired:
        return None
    moment, action = max(fired)
    return action, moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class DueAction:
    workspace_id: str
    action: str  # start or stop
    reason: str


@write_session
def due_scheduled_actions() -> list[DueAction]:
    """Every scheduled start or stop that came due since the last look, and the look recorded.
    A workspace seen for the first time starts counting from now."""
    db = active().db
    now = utcnow()
    rows = db.select(
        "SELECT id, status, schedule, schedule_checked_at FROM workspaces"
        " WHERE schedule IS NOT NULL AND status IN ('running', 'stopped')"
    )
    found = []
    for workspace_id, status, text, checked in rows:
        if checked is None:
            continue
        since = stored_moment(checked)
        schedule = json.loads(text)
        came = due(schedule, since, now)  # type: ignore[arg-type]
        if came is None:
            continue
        action = came[0]
        if (action, status) in (("start", "stopped"), ("stop", "running")):
            key = "autostart" if action == "start" else "autostop"
            reason = f"scheduled {action} ({schedule[key]} {schedule['timezone']})"
            found.append(DueAction(workspace_id, action, reason))
    db.execute(
        "UPDATE workspaces SET schedule_checked_at = $now WHERE schedule IS NOT NULL",
        {},
        {"now": sql_time(now)},
    )
    return found
